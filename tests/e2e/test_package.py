#!/usr/bin/python3
"""The Debian package and `cmake --install`.

Builds the source afresh, as a package is built (Release, no sanitizers,
CMAKE_INSTALL_PREFIX=/usr), in a temporary directory; makes the .deb with
`cpack -G DEB`; checks what it holds (`dpkg-deb -c`), its control fields and
maintainer scripts (`dpkg-deb -I`, `-e`); runs the maintainer scripts
against stand-in commands that only record what they are asked to do;
extracts it (`dpkg-deb -x`) and runs each program from there; applies its
sysusers.d and tmpfiles.d entries to a scratch root (--root); and checks
that `cmake --install` lays out the same files, staged with DESTDIR, and
with --prefix from a build for the default prefix.

Nothing is installed on this machine: the package is never given to dpkg -i,
and every installation is staged under the temporary directory."""

import glob
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

TARGETS = ("carehubd", "carehub-pub", "carehubctl", "carehub-notify")
SBIN_PROGRAMS = ("carehubd",)
BIN_PROGRAMS = ("carehub-pub", "carehubctl", "carehub-notify")
CONF_FILES = ("carehubd.conf", "carehub-notify.conf", "carehub-notify.templates")
# Where Debian 12's systemd looks for a package's units (/lib is /usr/lib).
UNIT_DIRS = ("/lib/systemd/system", "/usr/lib/systemd/system")
# What the maintainer scripts run; each is replaced by a stand-in.
SCRIPT_COMMANDS = ("systemd-sysusers", "systemd-tmpfiles", "getent", "addgroup", "adduser",
                   "mkdir", "chown", "chmod", "rm", "dpkg-statoverride", "deb-systemd-helper",
                   "deb-systemd-invoke", "systemctl")
BUILD_TIMEOUT = 400


def run(args, cwd=None, env=None, timeout=120):
    """Runs args to completion; returns (exit status, stdout + stderr)."""
    p = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout, text=True)
    return p.returncode, p.stdout


def must(args, **kwargs):
    """Runs args; fails the test with their output unless they exit 0."""
    rc, out = run(args, **kwargs)
    if rc != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(args), rc, out))
    return out


def project_version():
    with open(os.path.join(h.SOURCE_DIR, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*carehub\s+VERSION\s+([0-9.]+)", f.read())
    if m is None:
        raise AssertionError("no project(carehub VERSION ...) in CMakeLists.txt")
    return m.group(1)


def source_units():
    return sorted(os.path.basename(p)[:-3]
                  for p in glob.glob(os.path.join(h.SOURCE_DIR, "systemd", "*.service.in")))


def source_man_pages():
    """(section, name) of each man page in man/."""
    pages = []
    for path in sorted(glob.glob(os.path.join(h.SOURCE_DIR, "man", "*.[158]"))):
        pages.append((path[-1], os.path.basename(path)))
    return pages


def expected_files(unit_dir, prefix="/usr", confdir="/etc/carehub",
                   sysusers_dir="/usr/lib/sysusers.d", tmpfiles_dir="/usr/lib/tmpfiles.d"):
    """Every file an installation with these directories must hold."""
    files = {prefix + "/sbin/" + p for p in SBIN_PROGRAMS}
    files |= {prefix + "/bin/" + p for p in BIN_PROGRAMS}
    files |= {confdir + "/" + c for c in CONF_FILES}
    files |= {unit_dir + "/" + u for u in source_units()}
    files.add(sysusers_dir + "/carehub.conf")
    files.add(tmpfiles_dir + "/carehub.conf")
    files |= {"%s/share/man/man%s/%s" % (prefix, section, name)
              for section, name in source_man_pages()}
    files.add(prefix + "/share/doc/carehub/README.md")
    files |= {prefix + "/share/doc/carehub/" + os.path.basename(p)
              for p in glob.glob(os.path.join(h.SOURCE_DIR, "docs", "*.md"))}
    return files


def files_under(root):
    """Every file and symbolic link under root, as absolute paths inside it."""
    found = set()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            found.add("/" + os.path.relpath(os.path.join(dirpath, name), root))
    return found


def unit_dir_of(files):
    dirs = {os.path.dirname(f) for f in files if f.endswith(".service")}
    if len(dirs) != 1 or not dirs <= set(UNIT_DIRS):
        raise AssertionError("units in %s, expected in one of %s" % (sorted(dirs), UNIT_DIRS))
    return dirs.pop()


def clean_env():
    env = dict(os.environ)
    for name in ("CAREHUB_ENDPOINT", "JOURNAL_STREAM", "INVOCATION_ID", "NOTIFY_SOCKET", "DESTDIR"):
        env.pop(name, None)
    return env


class Package(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        for tool in ("cmake", "cpack", "dpkg-deb", "dpkg-shlibdeps", "dpkg", "readelf"):
            if shutil.which(tool) is None:
                raise AssertionError("%s not found (Debian: cmake, dpkg-dev)" % tool)
        cls.tmp = tempfile.TemporaryDirectory(prefix="carehub-package-")
        cls.build = os.path.join(cls.tmp.name, "build")
        cls.version = project_version()
        cls.arch = must(["dpkg", "--print-architecture"]).strip()
        # A package is built without sanitizers.  Only the installed
        # programs are built; CMAKE_SKIP_INSTALL_ALL_DEPENDENCY keeps cpack
        # from building everything else first.
        must(["cmake", "-S", h.SOURCE_DIR, "-B", cls.build, "-DCMAKE_BUILD_TYPE=Release",
              "-DCAREHUB_SANITIZE=OFF", "-DCMAKE_INSTALL_PREFIX=/usr",
              "-DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON"], env=clean_env())
        must(["cmake", "--build", cls.build, "-j2", "--target"] + list(TARGETS),
             env=clean_env(), timeout=BUILD_TIMEOUT)
        must(["cpack", "-G", "DEB"], cwd=cls.build, env=clean_env(), timeout=300)
        cls.deb = os.path.join(cls.build, "carehub_%s_%s.deb" % (cls.version, cls.arch))
        if not os.path.exists(cls.deb):
            raise AssertionError("cpack made no %s: %s" % (cls.deb, os.listdir(cls.build)))
        cls.root = os.path.join(cls.tmp.name, "extracted")
        must(["dpkg-deb", "-x", cls.deb, cls.root])
        cls.control = os.path.join(cls.tmp.name, "control")
        must(["dpkg-deb", "-e", cls.deb, cls.control])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def package_entries(self):
        """{path: (mode string, owner)} of every entry dpkg-deb -c lists."""
        entries = {}
        for line in must(["dpkg-deb", "-c", self.deb]).splitlines():
            fields = line.split(None, 5)
            self.assertEqual(len(fields), 6, line)
            path = fields[5].split(" -> ")[0]
            self.assertTrue(path.startswith("./"), line)
            entries[path[1:].rstrip("/") or "/"] = (fields[0], fields[1])
        return entries

    def package_files(self):
        return {p for p, (mode, _owner) in self.package_entries().items() if mode[0] != "d"}

    # ---- what the package holds

    def test_contents(self):
        """dpkg-deb -c: every expected file, nothing else, owned by root, sensible modes."""
        entries = self.package_entries()
        files = self.package_files()
        expected = expected_files(unit_dir_of(files))
        self.assertEqual(sorted(files - expected), [], "files the package should not hold")
        self.assertEqual(sorted(expected - files), [], "files missing from the package")
        for path, (mode, owner) in entries.items():
            with self.subTest(path=path):
                self.assertEqual(owner, "root/root")
                if path in files:
                    executable = path.startswith(("/usr/bin/", "/usr/sbin/"))
                    self.assertEqual(mode, "-rwxr-xr-x" if executable else "-rw-r--r--")
                else:
                    self.assertEqual(mode, "drwxr-xr-x")

    def test_man_pages_for_every_program(self):
        """The man pages the issue asks for, when man/ has them, are all in the package."""
        if not os.path.isdir(os.path.join(h.SOURCE_DIR, "man")):
            self.skipTest("no man/ yet")
        files = self.package_files()
        for page in ("man8/carehubd.8", "man5/carehubd.conf.5", "man1/carehub-pub.1",
                     "man1/carehubctl.1", "man1/carehub-notify.1"):
            with self.subTest(page=page):
                self.assertIn("/usr/share/man/" + page, files)

    def test_units_name_the_package_paths(self):
        unit_dir = unit_dir_of(self.package_files())
        programs = {"carehubd.service": ("/usr/sbin/carehubd", "/etc/carehub/carehubd.conf"),
                    "carehub-notify.service": ("/usr/bin/carehub-notify",
                                               "/etc/carehub/carehub-notify.conf")}
        for unit, (program, conf) in programs.items():
            with self.subTest(unit=unit):
                with open(self.root + unit_dir + "/" + unit) as f:
                    text = f.read()
                self.assertIn("\nExecStart=%s -c %s\n" % (program, conf), text)
                self.assertIn("\nExecStartPre=%s -n -c %s\n" % (program, conf), text)
                self.assertIn("\nUser=carehub\n", text)

    def test_control_fields(self):
        """dpkg-deb -I: the control fields and the maintainer scripts."""
        info = must(["dpkg-deb", "-I", self.deb])
        for member in ("control", "conffiles", "md5sums", "postinst", "prerm", "postrm"):
            self.assertRegex(info, r"\n\s+\d+ bytes,\s+\d+ lines\s+\*?\s+%s\b" % member)

        def field(name):
            return must(["dpkg-deb", "-f", self.deb, name]).strip()

        self.assertEqual(field("Package"), "carehub")
        self.assertEqual(field("Version"), self.version)
        self.assertEqual(field("Architecture"), self.arch)
        self.assertEqual(field("Section"), "admin")
        self.assertEqual(field("Priority"), "optional")
        self.assertRegex(field("Maintainer"), r"^.+ <[^@>\s]+@[^>\s]+>$")
        description = field("Description").splitlines()
        self.assertGreater(len(description), 1, "a summary and a long description")
        self.assertLess(len(description[0]), 80)

    def test_depends_covers_linked_libraries(self):
        """Depends names the package of every shared library the programs
        link (readelf -d, found with ldd and dpkg -S), procps (/bin/kill, the units'
        reload) and what makes the carehub user (systemd or adduser)."""
        depends = must(["dpkg-deb", "-f", self.deb, "Depends"]).strip()
        names = set()
        for clause in depends.split(","):
            for alternative in clause.split("|"):
                names.add(alternative.strip().split(" ")[0].split(":")[0])
        self.assertIn("procps", names)
        self.assertTrue(re.search(r"(^|,)\s*systemd\s*\|\s*adduser\s*(,|$)", depends), depends)
        needed = set()
        for program in [self.root + "/usr/sbin/" + p for p in SBIN_PROGRAMS] + \
                       [self.root + "/usr/bin/" + p for p in BIN_PROGRAMS]:
            # The libraries it names itself (NEEDED), found where ldd finds them.
            direct = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                                must(["readelf", "-d", program]))
            resolved = dict(re.findall(r"^\s*(\S+) => (/\S+)", must(["ldd", program]), re.M))
            for library in direct:
                self.assertIn(library, resolved, "ldd %s" % program)
                needed.add(self.owning_package(resolved[library]))
        for package in sorted(needed):
            with self.subTest(package=package):
                self.assertIn(package, names, "Depends: " + depends)

    def owning_package(self, path):
        candidates = [path, os.path.realpath(path)]
        for p in list(candidates):
            if p.startswith("/lib"):
                candidates.append("/usr" + p)
            elif p.startswith("/usr/lib"):
                candidates.append(p[len("/usr"):])
        for p in candidates:
            rc, out = run(["dpkg-query", "-S", p])
            if rc == 0:
                return out.split(":")[0].strip()
        raise AssertionError("no package owns %s (tried %s)" % (path, candidates))

    def test_conffiles(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            listed = f.read().split()
        self.assertEqual(sorted(listed), sorted("/etc/carehub/" + c for c in CONF_FILES))

    def test_maintainer_scripts(self):
        """The scripts are the ones in packaging/deb/, executable, valid sh."""
        for script in ("postinst", "prerm", "postrm"):
            with self.subTest(script=script):
                path = os.path.join(self.control, script)
                self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o755)
                with open(path) as a, open(os.path.join(h.SOURCE_DIR, "packaging", "deb",
                                                        script)) as b:
                    self.assertEqual(a.read(), b.read())
                must(["sh", "-n", path])

    # ---- the maintainer scripts, against stand-ins

    def run_script(self, script, args, present=SCRIPT_COMMANDS):
        """Runs a maintainer script with PATH holding only stand-ins for the
        commands in present, each of which records its arguments and succeeds
        (getent: finds nobody); returns the recorded calls."""
        path = os.path.join(self.control, script)
        with open(path) as f:
            text = f.read()
        # A command named by its full path would escape the stand-ins.
        for line in text.splitlines():
            code = line.split("#")[0]
            self.assertNotRegex(code, r"(^|;|&&|\|\||\||\bthen|\bdo|\belse)\s*/(usr/)?s?bin/",
                                "%s runs a command by its full path" % script)
        stubs = tempfile.mkdtemp(dir=self.tmp.name)
        log = os.path.join(stubs, "calls.log")
        for command in present:
            stub = os.path.join(stubs, command)
            status = 2 if command == "getent" else 0
            with open(stub, "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >> "%s"\nexit %d\n' % (command, log, status))
            os.chmod(stub, 0o755)
        rc, out = run(["/bin/sh", "-e", path] + args, env={"PATH": stubs})
        self.assertEqual(rc, 0, "%s %s:\n%s" % (script, " ".join(args), out))
        if not os.path.exists(log):
            return []
        with open(log) as f:
            return f.read().splitlines()

    def test_postinst_with_systemd_tools(self):
        calls = self.run_script("postinst", ["configure", ""])
        self.assertIn("systemd-sysusers carehub.conf", calls)
        self.assertIn("systemd-tmpfiles --create carehub.conf", calls)
        self.assertIn("deb-systemd-helper enable carehubd.service", calls)
        self.assertNotIn("deb-systemd-helper enable carehub-notify.service", calls)
        self.assertFalse([c for c in calls if c.startswith(("adduser", "addgroup"))], calls)
        if not os.path.isdir("/run/systemd/system"):
            # systemd does not run here: nothing may be started or reloaded.
            self.assertFalse([c for c in calls if c.startswith(("systemctl",
                                                                "deb-systemd-invoke"))], calls)

    def test_postinst_without_systemd_tools(self):
        present = [c for c in SCRIPT_COMMANDS
                   if c not in ("systemd-sysusers", "systemd-tmpfiles", "deb-systemd-helper",
                                "deb-systemd-invoke", "systemctl")]
        calls = self.run_script("postinst", ["configure", ""], present)
        self.assertIn("addgroup --quiet --system carehub", calls)
        adduser = [c for c in calls if c.startswith("adduser ")]
        self.assertEqual(len(adduser), 1, calls)
        for option in ("--system", "--ingroup carehub", "--home /var/lib/carehub",
                       "--shell /usr/sbin/nologin"):
            self.assertIn(option, adduser[0])
        self.assertTrue(adduser[0].endswith(" carehub"), adduser[0])
        for directory in ("/var/lib/carehub", "/run/carehub"):
            self.assertIn("mkdir -p " + directory, calls)
            self.assertIn("chown carehub:carehub " + directory, calls)
            self.assertIn("chmod 0750 " + directory, calls)

    def test_prerm_and_postrm(self):
        self.assertEqual([c for c in self.run_script("prerm", ["upgrade", "1"])
                          if "stop" in c], [], "an upgrade does not stop the services")
        removed = self.run_script("postrm", ["remove"])
        self.assertFalse([c for c in removed if c.startswith("rm ")],
                         "remove keeps the data: %s" % removed)
        purged = self.run_script("postrm", ["purge"])
        self.assertIn("rm -rf /var/lib/carehub", purged)

    # ---- the extracted package

    def test_programs_run(self):
        """Each program from the extracted package: --help, and --version
        when its help offers it."""
        for program in [self.root + "/usr/sbin/" + p for p in SBIN_PROGRAMS] + \
                       [self.root + "/usr/bin/" + p for p in BIN_PROGRAMS]:
            name = os.path.basename(program)
            with self.subTest(program=name):
                rc, out = run([program, "--help"], env=clean_env(), timeout=30)
                self.assertEqual(rc, 0, out)
                self.assertRegex(out, r"(?i)^usage: " + re.escape(name))
                if "--version" in out or name == "carehubd":
                    rc, out = run([program, "--version"], env=clean_env(), timeout=30)
                    self.assertEqual(rc, 0, out)
                    self.assertIn(self.version, out)

    def rewritten_conf(self, name):
        """The extracted package's configuration file name, with its paths
        moved into the temporary directory."""
        work = tempfile.mkdtemp(dir=self.tmp.name)
        with open(self.root + "/etc/carehub/" + name) as f:
            text = f.read()
        self.assertIn('"/var/lib/carehub', text)
        self.assertIn("ipc:///run/carehub/", text)
        text = text.replace('"/var/lib/carehub', '"' + work + "/state")
        text = text.replace("ipc:///run/carehub/", "ipc://" + work + "/")
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_daemon_checks_shipped_configuration(self):
        conf = self.rewritten_conf("carehubd.conf")
        rc, out = run([self.root + "/usr/sbin/carehubd", "-n", "-c", conf], env=clean_env(),
                      timeout=30)
        self.assertEqual(rc, 0, out)
        self.assertIn("configuration OK", out)

    def test_notify_checks_shipped_configuration(self):
        conf = self.rewritten_conf("carehub-notify.conf")
        rc, out = run([self.root + "/usr/bin/carehub-notify", "-n", "-c", conf],
                      env=clean_env(), timeout=30)
        self.assertEqual(rc, 0, out)

    def test_sysusers_and_tmpfiles_entries(self):
        """The package's entries, applied to a scratch root as postinst
        applies them to the machine: a system user and group carehub with
        home /var/lib/carehub and no login, and both directories 0750
        carehub:carehub."""
        if shutil.which("systemd-sysusers") is None or shutil.which("systemd-tmpfiles") is None:
            self.fail("systemd-sysusers or systemd-tmpfiles not found: install Debian's systemd")
        scratch = tempfile.mkdtemp(dir=self.tmp.name)
        for directory in ("etc", "var/lib", "run", "usr/lib/sysusers.d", "usr/lib/tmpfiles.d"):
            os.makedirs(os.path.join(scratch, directory))
        for kind in ("sysusers.d", "tmpfiles.d"):
            shutil.copy(self.root + "/usr/lib/%s/carehub.conf" % kind,
                        os.path.join(scratch, "usr/lib", kind))
        must(["systemd-sysusers", "--root=" + scratch, "carehub.conf"])
        must(["systemd-tmpfiles", "--root=" + scratch, "--create", "carehub.conf"])
        with open(os.path.join(scratch, "etc/passwd")) as f:
            users = [line.split(":") for line in f.read().splitlines()]
        with open(os.path.join(scratch, "etc/group")) as f:
            groups = [line.split(":") for line in f.read().splitlines()]
        user = [u for u in users if u[0] == "carehub"]
        group = [g for g in groups if g[0] == "carehub"]
        self.assertEqual(len(user), 1, users)
        self.assertEqual(len(group), 1, groups)
        uid, gid = int(user[0][2]), int(user[0][3])
        self.assertLess(uid, 1000, "a system user")
        self.assertEqual(gid, int(group[0][2]))
        self.assertEqual(user[0][5], "/var/lib/carehub")
        self.assertEqual(user[0][6], "/usr/sbin/nologin")
        for directory in ("var/lib/carehub", "var/lib/carehub/backups", "run/carehub"):
            with self.subTest(directory=directory):
                st = os.stat(os.path.join(scratch, directory))
                self.assertTrue(stat.S_ISDIR(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o750)
                self.assertEqual((st.st_uid, st.st_gid), (uid, gid))

    # ---- cmake --install

    def test_cmake_install(self):
        """cmake --install: staged with DESTDIR, the package's files exactly;
        then, from the same build configured for the default prefix
        (/usr/local), --prefix DIR puts everything under DIR."""
        staged = os.path.join(self.tmp.name, "destdir")
        must(["cmake", "--install", self.build], env=dict(clean_env(), DESTDIR=staged))
        self.assertEqual(sorted(files_under(staged)), sorted(self.package_files()))

        # Only the install rules change: nothing is rebuilt.
        must(["cmake", "-DCMAKE_INSTALL_PREFIX=/usr/local", self.build], env=clean_env())
        rc, out = run(["cpack", "-G", "DEB"], cwd=self.build, env=clean_env(), timeout=120)
        self.assertNotEqual(rc, 0, "cpack must refuse a build not configured for /usr")
        self.assertIn("CMAKE_INSTALL_PREFIX=/usr", out)
        # DESTDIR as well, so that a file installed outside the prefix
        # lands in the sandbox, not on this machine, and is seen below.
        sandbox = os.path.join(self.tmp.name, "sandbox")
        prefix = os.path.join(self.tmp.name, "prefix")
        must(["cmake", "--install", self.build, "--prefix", prefix],
             env=dict(clean_env(), DESTDIR=sandbox))
        installed = files_under(sandbox)
        outside = sorted(p for p in installed if not p.startswith(prefix + "/"))
        self.assertEqual(outside, [], "installed outside the --prefix")
        relative = {p[len(prefix):] for p in installed}
        expected = {p[len("/usr/local"):] for p in expected_files(
            "/usr/local/lib/systemd/system", prefix="/usr/local",
            confdir="/usr/local/etc/carehub", sysusers_dir="/usr/local/lib/sysusers.d",
            tmpfiles_dir="/usr/local/lib/tmpfiles.d")}
        self.assertEqual(sorted(relative), sorted(expected))
        # The units name the configured prefix's paths.
        with open(sandbox + prefix + "/lib/systemd/system/carehubd.service") as f:
            self.assertIn("\nExecStart=/usr/local/sbin/carehubd -c "
                          "/usr/local/etc/carehub/carehubd.conf\n", f.read())
        rc, out = run([sandbox + prefix + "/sbin/carehubd", "--version"], env=clean_env())
        self.assertEqual(rc, 0, out)
        self.assertIn(self.version, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
