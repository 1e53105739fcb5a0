"""`zabbix-sepa zabbix setup`: make a Zabbix 6.0 or 7.x match the configuration, through its API.

Two parts, each comparing what is there with what the configuration asks for
and changing only the difference, so a second run changes nothing and says so;
a dry run reports the differences without touching anything:

- provision.py: the two templates (in the server's format), host group "SEPA",
  one host per site with its {$SEPA.*} macros;
- notify.py: user groups, media types, the escalation user and the action;
- fleet.py: the global dashboard "SEPA fleet".

Version differences are api.py's business. Anything else in Zabbix is left alone.
"""
from zabbix_sepa.zabbix import fleet
from zabbix_sepa.zabbix.notify import Notification
from zabbix_sepa.zabbix.provision import Provisioning


class Changes:
    """The changes of one run: `changes(text, apply)` records one and (unless dry run) makes
    it, reporting it as it happens so that a failure half-way still shows what was done.
    Returns apply()'s result, None in a dry run."""

    def __init__(self, dry_run=False, report=None):
        self.dry_run = dry_run
        self.report = report or (lambda line: None)
        self.made = []

    def __call__(self, text, apply):
        self.made.append(text)
        if self.dry_run:
            self.report(f"would {text}")
            return None
        result = apply()
        self.report(text)
        return result


def run(api, cfg, agent=False, agent_address="127.0.0.1", agent_port=10050, dry_run=False, report=None):
    """Set up Zabbix for `cfg`; the list of changes made (or, dry run, that would be)."""
    changes = Changes(dry_run, report)
    group_id = Provisioning(api, cfg, changes, agent=agent, agent_address=agent_address, agent_port=agent_port).run()
    Notification(api, cfg, changes, group_id).run()
    fleet.ensure(api, changes, group_id)
    return changes.made
