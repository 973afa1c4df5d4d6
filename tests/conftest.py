from helpers import runtime

runtime.apply()  # offline, quiet, pinned threads: before torch is imported
