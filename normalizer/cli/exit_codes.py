"""Exit codes: documented in the README and stable across releases."""

OK = 0  # everything went through, nothing rejected, all tests passed
REJECTS = 1  # finished, but some input was rejected (see --rejects) / a rule test failed / a fetch input failed
USAGE = 2  # bad command line, unreadable input file or invalid fetch configuration
RULE_ERROR = 3  # the rules failed to load or compile
STRICT = 4  # --strict: a rule failed at runtime on a record; stopped there
SPARK_FAILED = 5  # the Spark job only: Spark itself failed (a task failed too often, an output could not be written)
WORKER_FAILED = 6  # --jobs: a worker process died (killed, out of memory); output is complete up to its batch
INTERRUPTED = 130  # Ctrl-C (SIGINT), as shells report it; output is complete up to the last record written
