import faulthandler
import signal
import sys

from app.cli import main

# `kill -USR1 <pid>` prints every thread's Python stack to stderr (a hang, diagnosed)
faulthandler.register(signal.SIGUSR1, all_threads=True)

sys.exit(main())
