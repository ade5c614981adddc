# test_my_failover.py — a pipeline on a MariaDB replica follows a failover:
# primary and replica (GTIDs, log_slave_updates), waybill reads the replica
# under load and is killed; the replica fails; the same pipeline pointed
# at the primary resumes there by GTID. A consumer's view equals the
# primary's table, every version of every row exactly once.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401
from mytest import MariaDB, MyPipeline  # noqa: E402
from test_my_exact import Load, verify  # noqa: E402


def test():
    rnd = seeded_random()
    primary = MariaDB(server_id=1, name="primary").start()
    replica = MariaDB(server_id=2, name="replica", settings={"log-slave-updates": None}).start()
    primary.sql("CREATE DATABASE app; CREATE TABLE app.acct (id INT PRIMARY KEY, v INT NOT NULL, "
                "note VARCHAR(100)) ENGINE=InnoDB;")
    replica.replicate_from(primary)
    replica.wait_caught_up_with(primary)
    p = MyPipeline(replica, extra_source="  heartbeat: 500ms\n")
    p.run_idle(1)
    load = Load(primary, rnd)
    proc = p.start()
    time.sleep(3)
    check(proc.alive(), "waybill runs on the replica", proc.stderr()[-2000:])
    proc.kill()
    load.thread.check()
    # the replica fails while the primary goes on
    replica.kill()
    log("replica stopped; pointing the pipeline at the primary")
    time.sleep(1)
    cfg = p.config_text.replace(f"port: {replica.port}", f"port: {primary.port}")
    check(cfg != p.config_text, "config rewritten")
    p.write_config(cfg)
    proc = p.start()
    time.sleep(2)
    load.finish()
    check(proc.alive(), "waybill runs on the primary", proc.stderr()[-2000:])
    check_eq(proc.kill(signal.SIGTERM), 0, "exit code")
    check("resuming there from GTID state" in proc.stderr(), "the move is logged", proc.stderr()[-2000:])
    p.run_idle(2)
    n = verify(primary, p.out)
    ck = p.checkpoint()
    check(ck["position"].startswith("e1/"), "positions on the primary are in the next epoch",
          ck["position"])
    log(f"{n} events checked")


main(test)
