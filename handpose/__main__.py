import sys

from handpose.cli import main

sys.exit(main())
