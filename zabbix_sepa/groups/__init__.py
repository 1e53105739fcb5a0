"""One module per metric group; ALL is the collection order."""
from zabbix_sepa.groups import (audit, batches, collector, dues, errors, finance, health, mandates, members,
                                queues, scheduler, system, users)

ALL = (batches.GROUP, mandates.GROUP, members.GROUP, finance.GROUP, dues.GROUP, errors.GROUP,
       scheduler.GROUP, queues.GROUP, audit.GROUP, users.GROUP, system.GROUP, health.GROUP, collector.GROUP)
