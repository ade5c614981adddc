# test_package.py — the Debian package: `cpack -G DEB` in the build
# directory, then dpkg-deb -x into a clean directory; from there `waybill
# --version`, `waybill check --offline` on the packaged example and `waybill
# check` against a real PostgreSQL started here; the Depends field holds the
# package of every shared library the binaries need (dpkg-shlibdeps); the
# man pages lint clean (mandoc -T lint, man --warnings); the bash completion
# completes commands and options; `cmake --install` into a prefix puts the
# same files in place.
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wbtest import *  # noqa: E402,F401

BUILD = os.environ.get("WB_BUILD_DIR", os.path.dirname(WAYBILL))
SRC = os.environ.get("WB_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def sh(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    if r.returncode != 0:
        fail(f"{' '.join(args)} exited {r.returncode}:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    return r


def needed_packages(binary):
    """The Debian packages of the shared libraries binary needs."""
    out = sh(["readelf", "-d", binary]).stdout
    libs = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out)
    ldconf = sh(["ldconfig", "-p"]).stdout
    pkgs = {}
    for lib in libs:
        m = re.search(r"^\s*" + re.escape(lib) + r" \(libc6,x86-64\) => (\S+)$", ldconf, re.M)
        check(m is not None, f"ldconfig knows {lib}")
        path = os.path.realpath(m.group(1))
        r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
        if r.returncode != 0:  # merged /usr: dpkg knows the /lib name
            r = subprocess.run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/", 1)], capture_output=True, text=True)
        check(r.returncode == 0, f"dpkg -S finds the package of {path}", r.stderr)
        pkgs[lib] = r.stdout.split(":")[0]
    return pkgs


def test_package(pg):
    log("cpack -G DEB in the build directory")
    if shutil.which("dpkg-shlibdeps") is None:
        fail("dpkg-shlibdeps is missing: apt-get install dpkg-dev (tools/lib/deps.sh lists it)")
    work = make_tmpdir("wbtest-pkg-")
    sh(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", work], cwd=work)
    debs = [f for f in os.listdir(work) if f.endswith(".deb")]
    check_eq(len(debs), 1, "one .deb")
    deb = os.path.join(work, debs[0])
    check(re.fullmatch(r"waybill_0\.1\.0_[a-z0-9]+\.deb", debs[0]) is not None, f"package name {debs[0]}")

    log("control fields: Depends from dpkg-shlibdeps")
    depends = sh(["dpkg-deb", "-f", deb, "Depends"]).stdout.strip()
    log(f"  Depends: {depends}")
    dep_names = [d.strip().split()[0] for d in depends.split(",")]
    check(not any(n.endswith("-dev") for n in dep_names), "no -dev package in Depends", depends)
    root = os.path.join(work, "root")
    os.mkdir(root)
    sh(["dpkg-deb", "-x", deb, root])
    for binary in ("usr/bin/waybill", "usr/bin/waybill-mock-kafka"):
        for lib, pkg in needed_packages(os.path.join(root, binary)).items():
            check(pkg in dep_names, f"{binary} needs {lib}: Depends names its package {pkg}", depends)
    for pkg in ("libpq5", "libmariadb3", "librdkafka1", "libsystemd0", "libzstd1", "libjansson4", "libyaml-0-2",
                "libcurl4"):
        check(pkg in dep_names, f"Depends names {pkg}", depends)
    check_eq(sh(["dpkg-deb", "-f", deb, "Package"]).stdout.strip(), "waybill", "Package")
    check_eq(sh(["dpkg-deb", "-f", deb, "Version"]).stdout.strip(), "0.1.0", "Version")
    ctrl = os.path.join(work, "ctrl")
    sh(["dpkg-deb", "-e", deb, ctrl])
    with open(os.path.join(ctrl, "conffiles")) as f:
        check_eq(f.read(), "/etc/waybill/example.yaml\n", "conffiles: the example configuration")

    log("the files, extracted into a clean directory")
    files = sorted(os.path.relpath(os.path.join(r, f), root) for r, _, fs in os.walk(root) for f in fs)
    want = ["etc/waybill/example.yaml", "usr/bin/waybill", "usr/bin/waybill-mock-kafka",
            "usr/lib/systemd/system/waybill.service", "usr/lib/systemd/system/waybill@.service",
            "usr/share/bash-completion/completions/waybill"]
    have_man = os.path.isdir(os.path.join(BUILD, "man"))
    if have_man:
        want += ["usr/share/man/man1/waybill.1", "usr/share/man/man5/waybill.yaml.5"]
    else:
        print("SKIP man pages: the build has none (scdoc was not installed when it was configured)")
    check_eq(files, sorted(want), "exactly the expected files")
    for unit in ("waybill.service", "waybill@.service"):
        with open(os.path.join(root, "usr/lib/systemd/system", unit)) as f:
            text = f.read()
        check("\nExecStart=/usr/bin/waybill run -c ${WAYBILL_CONFIG}\n" in text, f"{unit}: ExecStart /usr/bin/waybill")
        check("ExecStartPre=" not in text and "\nRestartPreventExitStatus=2\n" in text,
              f"{unit}: a configuration error (exit 2 of run itself) is not restarted; no pre-check, "
              f"whose failure systemd would restart")
        check(f"\nEnvironment=WAYBILL_CONFIG=/etc/waybill/{'%i' if '@' in unit else 'waybill'}.yaml\n" in text,
              f"{unit}: its configuration in /etc/waybill")

    log("the packaged binary runs: --version, check --offline, check against PostgreSQL")
    wb = os.path.join(root, "usr/bin/waybill")
    r = sh([wb, "--version"])
    check_eq(r.stdout, "waybill 0.1.0\n", "waybill --version from the package")
    r = sh([wb, "check", "--offline", "-c", os.path.join(root, "etc/waybill/example.yaml")])
    check(r.stdout.endswith("checks the servers)\n"), "the packaged example validates offline", r.stdout)
    with open(os.path.join(root, "etc/waybill/example.yaml")) as f:
        text = f.read()
    text = text.replace("/var/lib/waybill/", work + "/state/")
    text = re.sub(r'dsn: ".*"', f"dsn: {json.dumps(pg.dsn())}", text)
    text = text.replace('tables: ["public.*"]', 'tables: ["public.pk_t"]')
    conf = os.path.join(work, "pk.yaml")
    with open(conf, "w") as f:
        f.write(text)
    pg.psql("CREATE TABLE pk_t (id int PRIMARY KEY); INSERT INTO pk_t VALUES (1), (2);")
    r = subprocess.run([wb, "check", "-c", conf], capture_output=True, text=True, timeout=120)
    check_eq(r.returncode, 0, f"packaged waybill check against PostgreSQL exits 0\n{r.stdout}\n{r.stderr}")
    check(r.stdout.endswith("all checks passed\n"), "all checks passed", r.stdout)
    check("FAIL" not in r.stdout, "no FAIL line", r.stdout)
    r = subprocess.run([wb, "run", "-c", conf, "--stop-when-idle", "0"], capture_output=True, text=True,
                       timeout=120)
    check_eq(r.returncode, 0, f"packaged waybill run exits 0: {r.stderr[-2000:]}")
    check_eq([x["after"]["id"] for x in records(os.path.join(work, "state", "out"), "example.public.pk_t")], [1, 2],
             "the packaged waybill wrote the table's 2 rows where the example says")

    if have_man:
        log("man pages lint clean")
        for page in ("usr/share/man/man1/waybill.1", "usr/share/man/man5/waybill.yaml.5"):
            path = os.path.join(root, page)
            r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", path], capture_output=True, text=True)
            check_eq((r.returncode, r.stdout + r.stderr), (0, ""), f"mandoc -T lint -W warning {page}")
            r = subprocess.run(["man", "--warnings", "-l", path], capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80"))
            check_eq((r.returncode, r.stderr), (0, ""), f"man --warnings {page}")
        text = subprocess.run(["man", "-l", os.path.join(root, "usr/share/man/man1/waybill.1")], capture_output=True,
                              text=True, env=dict(os.environ, MANWIDTH="200")).stdout
        text = re.sub(".\b", "", text)
        for cmd in ("run", "check", "status", "snapshot", "schema", "cat", "slot list", "slot drop",
                    "mapping test", "mapping preview"):
            check(f"\n       {cmd} " in text or f"\n       waybill {cmd}" in text, f"waybill(1) documents {cmd}")
        for opt in ("--stop-when-idle", "--endpos", "--resnapshot", "--offline", "--tables", "--follow", "--count",
                    "--from", "--slot", "--yes", "--version", "--help", "EXIT STATUS"):
            check(opt in text, f"waybill(1) documents {opt}")
        five = subprocess.run(["man", "-l", os.path.join(root, "usr/share/man/man5/waybill.yaml.5")],
                              capture_output=True, text=True, env=dict(os.environ, MANWIDTH="200")).stdout
        five = re.sub(".\b", "", five)
        for key in config_keys():
            check(re.search(r"\b" + re.escape(key) + r"\b", five) is not None, f"waybill.yaml(5) documents {key}")
        # the lint can fail: a broken page is reported
        bad = os.path.join(work, "bad.1")
        with open(bad, "w") as f:
            f.write(".TH BAD 1\n.SH NAME\n.PP\n.SH DESCRIPTION\n.BOGUS x\n")
        r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", bad], capture_output=True, text=True)
        check(r.returncode != 0 and r.stdout + r.stderr != "", "mandoc -T lint reports a broken page")

    test_completion(os.path.join(root, "usr/share/bash-completion/completions/waybill"))
    test_cmake_install(work)


def config_keys():
    """Every configuration key the code accepts (src/config.c's key lists
    and the Kafka sink's)."""
    keys = set()
    with open(os.path.join(SRC, "src", "config.c")) as f:
        text = f.read()
    for name in ("top_keys", "mysql_keys", "source_keys", "sink_keys", "metrics_keys", "snapshot_keys"):
        m = re.search(r"static const char \*const " + name + r"\[\] = \{(.*?)\};", text, re.S)
        check(m is not None, f"src/config.c has {name}")
        keys.update(re.findall(r'"([a-z_]+)"', m.group(1)))
    with open(os.path.join(SRC, "connectors", "kafka", "kafka_sink.c")) as f:
        text = f.read()
    for name in ("known_keys", "registry_keys"):
        m = re.search(r"static const char \*const " + name + r"\[\] = \{(.*?)\};", text, re.S)
        check(m is not None, f"kafka_sink.c has {name}")
        keys.update(re.findall(r'"([a-z_]+)"', m.group(1)))
    check(len(keys) > 40, f"{len(keys)} keys found")
    return sorted(keys)


def test_completion(script):
    bc = "/usr/share/bash-completion/bash_completion"
    if not os.path.isfile(bc):
        print(f"SKIP bash completion: {bc} is missing (apt-get install bash-completion)")
        return
    log("bash completion")

    def complete(line):
        words = line.split(" ")
        prog = (f"source {bc}; source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
                f"COMP_CWORD={len(words) - 1}; COMP_LINE={line!r}; COMP_POINT={len(line)}; "
                f"_waybill waybill {words[-1]!r} {words[-2]!r}; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        r = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, timeout=30)
        return sorted(x for x in r.stdout.split("\n") if x)
    check_eq(complete("waybill s"), ["schema", "slot", "snapshot", "status"], "waybill s<TAB>")
    check_eq(complete("waybill slot "), ["--help", "drop", "list"], "waybill slot <TAB>")
    check_eq(complete("waybill slot drop --"), ["--config", "--help", "--slot", "--yes"], "waybill slot drop --<TAB>")
    check_eq(complete("waybill run --"), ["--config", "--endpos", "--help", "--resnapshot", "--stop-when-idle"],
             "waybill run --<TAB>")
    check_eq(complete("waybill check --o"), ["--offline"], "waybill check --o<TAB>")
    check_eq(complete("waybill cat --f"), ["--follow", "--from"], "waybill cat --f<TAB>")
    check_eq(complete("waybill -"), ["--help", "--version", "-V", "-h"], "waybill -<TAB>")


def test_cmake_install(work):
    log("cmake --install into a prefix")
    prefix = os.path.join(work, "prefix")
    sh(["cmake", "--install", BUILD, "--prefix", prefix])
    files = sorted(os.path.relpath(os.path.join(r, f), prefix) for r, _, fs in os.walk(prefix) for f in fs)
    want = ["bin/waybill", "bin/waybill-mock-kafka", "etc/waybill/example.yaml", "lib/systemd/system/waybill.service",
            "lib/systemd/system/waybill@.service", "share/bash-completion/completions/waybill"]
    if os.path.isdir(os.path.join(BUILD, "man")):
        want += ["share/man/man1/waybill.1", "share/man/man5/waybill.yaml.5"]
    check_eq(files, sorted(want), "cmake --install puts exactly these files under the prefix")
    with open(os.path.join(prefix, "lib/systemd/system/waybill@.service")) as f:
        text = f.read()
    check(f"\nExecStart={prefix}/bin/waybill run -c ${{WAYBILL_CONFIG}}\n" in text, "ExecStart names the prefix")
    check(f"\nEnvironment=WAYBILL_CONFIG={prefix}/etc/waybill/%i.yaml\n" in text, "configuration under the prefix")
    r = sh([os.path.join(prefix, "bin/waybill"), "-V"])
    check_eq(r.stdout, "waybill 0.1.0\n", "the installed waybill -V")


def test():
    pg = Postgres().start()
    test_package(pg)


main(test)
