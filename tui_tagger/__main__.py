from tui_tagger.cli import main

raise SystemExit(main())
