"""Zabbix side: the template rendered from the registry, and setup through the API."""
