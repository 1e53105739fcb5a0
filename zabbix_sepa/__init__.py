"""zabbix-sepa: watch a Verenigingen site's SEPA direct debit operations through Zabbix."""

__version__ = "0.1.0"
CONTRACT_VERSION = 1
