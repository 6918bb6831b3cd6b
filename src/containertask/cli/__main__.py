import sys

from containertask.cli import main

sys.exit(main())
