from logger.cli import main

raise SystemExit(main())
