#!/usr/bin/python3
"""The systemd units, as CMake makes them from systemd/*.service.in: each
must score at most 2.0 with `systemd-analyze security --offline=true`, and
`systemd-analyze verify` must find nothing wrong with it.

verify checks that every command a unit runs exists and is executable, and
that the man pages in Documentation= exist.  So the build is installed (as
`cmake --install` does, staged with DESTDIR) into a temporary root that
also holds the host's own units (sysinit.target, network.target ...) and
the host's commands the units run that carehub does not install
(/bin/kill, from procps); verify then runs with --root on that tree, and
MANPATH names only the man pages installed there.

Both tools work without systemd running (Debian's systemd package)."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as h  # noqa: E402

SYSTEMD_ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
MAX_EXPOSURE = 2.0
EXPOSURE_LINE = re.compile(r"Overall exposure level for (?P<unit>\S+): (?P<score>\d+(?:\.\d+)?)")
# The host's own units, which the staged root borrows for the units' dependencies.
HOST_UNIT_DIRS = ("/usr/lib/systemd/system", "/lib/systemd/system")


def run(args, env=None, timeout=120):
    """Runs args to completion; returns (exit status, stdout + stderr)."""
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=timeout, text=True)
    return p.returncode, p.stdout


def unit_names():
    """The units the source defines: systemd/*.service.in, without .in."""
    names = [os.path.basename(p)[:-3]
             for p in glob.glob(os.path.join(h.SOURCE_DIR, "systemd", "*.service.in"))]
    return sorted(names)


def exec_commands(unit_text):
    """The absolute paths of the programs a unit's Exec*= lines run."""
    commands = []
    for line in unit_text.splitlines():
        m = re.match(r"^\s*Exec\w+=\s*(\S+)", line)
        if m:
            # Prefixes such as - @ : + ! change how systemd runs the command.
            path = m.group(1).lstrip("-@:+!")
            if path.startswith("/"):
                commands.append(path)
    return commands


class Units(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(SYSTEMD_ANALYZE, os.X_OK):
            raise AssertionError("systemd-analyze not found: install Debian's systemd package")
        cls.units = unit_names()
        if not cls.units:
            raise AssertionError("no systemd/*.service.in in " + h.SOURCE_DIR)
        cls.tmp = tempfile.TemporaryDirectory(prefix="carehub-units-")
        cls.root = os.path.join(cls.tmp.name, "root")
        cmake = shutil.which("cmake")
        if cmake is None:
            raise AssertionError("cmake not found")
        env = dict(os.environ, DESTDIR=cls.root)
        rc, out = run([cmake, "--install", h.BIN_DIR], env=env)
        if rc != 0:
            raise AssertionError("cmake --install %s failed:\n%s" % (h.BIN_DIR, out))
        # Where the installation put each unit, before the host's are added.
        cls.installed = {}
        for dirpath, _dirs, files in os.walk(cls.root):
            for name in files:
                if name in cls.units:
                    cls.installed.setdefault(name, []).append(os.path.join(dirpath, name))
        cls.man_dirs = sorted({os.path.dirname(os.path.dirname(p))
                               for p in glob.glob(os.path.join(cls.root, "**", "man[1-8]", "*"),
                                                  recursive=True)})
        cls._add_host_units()
        cls._add_host_commands()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def _add_host_units(cls):
        for host_dir in HOST_UNIT_DIRS:
            if os.path.isdir(host_dir):
                break
        else:
            raise AssertionError("no systemd unit directory on this machine")
        target = os.path.join(cls.root, "usr", "lib", "systemd", "system")
        os.makedirs(target, exist_ok=True)
        for name in os.listdir(host_dir):
            destination = os.path.join(target, name)
            if name in cls.units or os.path.lexists(destination):
                continue
            source = os.path.join(host_dir, name)
            if os.path.islink(source):
                os.symlink(os.readlink(source), destination)
            elif os.path.isdir(source):
                shutil.copytree(source, destination, symlinks=True)
            else:
                shutil.copy2(source, destination)

    @classmethod
    def _add_host_commands(cls):
        """Copies into the root the programs the units run that the
        installation did not put there (the system's, like /bin/kill)."""
        for paths in cls.installed.values():
            with open(paths[0]) as f:
                text = f.read()
            for command in exec_commands(text):
                staged = cls.root + command
                if os.path.exists(staged):
                    continue
                if not os.access(command, os.X_OK):
                    raise AssertionError("%s runs %s, which is neither installed by carehub "
                                         "nor on this machine" % (paths[0], command))
                os.makedirs(os.path.dirname(staged), exist_ok=True)
                shutil.copy2(os.path.realpath(command), staged)

    def unit_path(self, name):
        paths = self.installed.get(name, [])
        self.assertEqual(len(paths), 1, "%s installed %d times: %s" % (name, len(paths), paths))
        return paths[0]

    def test_units_installed_as_built(self):
        """cmake --install installs each unit exactly as CMake made it in the build directory."""
        for name in self.units:
            with self.subTest(unit=name):
                built = os.path.join(h.BIN_DIR, "systemd", name)
                self.assertTrue(os.path.exists(built), built)
                with open(built) as a, open(self.unit_path(name)) as b:
                    self.assertEqual(a.read(), b.read())

    def test_units_have_no_placeholders(self):
        for name in self.units:
            with self.subTest(unit=name):
                with open(self.unit_path(name)) as f:
                    text = f.read()
                self.assertNotRegex(text, r"@[A-Z_]+@", "configure_file left a placeholder")

    def test_security_exposure(self):
        """systemd-analyze security --offline=true: overall exposure at most 2.0."""
        for name in self.units:
            with self.subTest(unit=name):
                path = self.unit_path(name)
                rc, out = run([SYSTEMD_ANALYZE, "security", "--offline=true", "--no-pager", path])
                self.assertEqual(rc, 0, out)
                m = EXPOSURE_LINE.search(out)
                self.assertIsNotNone(m, "no overall exposure level in:\n" + out)
                score = float(m.group("score"))
                last = [line for line in out.splitlines() if line.strip()][-1]
                print("%s: %s" % (name, last.strip()), flush=True)
                exposed = "\n".join(line for line in out.splitlines() if "\u2717" in line)
                self.assertLessEqual(score, MAX_EXPOSURE,
                                     "%s scores %.1f (at most %.1f); exposed:\n%s"
                                     % (name, score, MAX_EXPOSURE, exposed))

    def test_verify(self):
        """systemd-analyze verify: no error and no warning about carehub's units."""
        env = dict(os.environ)
        args = [SYSTEMD_ANALYZE, "verify", "--no-pager", "--recursive-errors=no",
                "--root=" + self.root]
        if shutil.which("man") and self.man_dirs:
            # Documentation=man:... is checked against the installed pages only.
            env["MANPATH"] = ":".join(self.man_dirs)
        else:
            print("note: no man command or no man pages installed: Documentation= "
                  "man pages not checked", flush=True)
            args.append("--man=no")
        for name in self.units:
            with self.subTest(unit=name):
                path = self.unit_path(name)
                rc, out = run(args + [path], env=env)
                about_units = [line for line in out.splitlines()
                               if any(unit in line for unit in self.units)]
                self.assertEqual(about_units, [], "systemd-analyze verify %s:\n%s" % (name, out))
                self.assertEqual(rc, 0, "systemd-analyze verify %s:\n%s" % (name, out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
