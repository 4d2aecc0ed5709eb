import sys

from eraser_cli.main import main

sys.exit(main())
