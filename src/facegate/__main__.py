from facegate.cli import main

raise SystemExit(main())
