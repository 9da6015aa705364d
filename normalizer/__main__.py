"""``python -m normalizer`` runs the o365norm command line."""

from .cli.main import main

raise SystemExit(main())
