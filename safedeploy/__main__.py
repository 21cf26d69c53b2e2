import sys

from safedeploy.cli import main

sys.exit(main())
