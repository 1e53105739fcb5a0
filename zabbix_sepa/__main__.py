from zabbix_sepa.cli import main

raise SystemExit(main())
