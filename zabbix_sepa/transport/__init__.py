"""How a document reaches Zabbix: the sender protocol with a spool (push), the agent (pull)."""
