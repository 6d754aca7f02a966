from fttui.cli import main

raise SystemExit(main())
