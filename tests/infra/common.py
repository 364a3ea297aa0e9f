"""common.py - shared by tests/scripts/infra_*.py: paths, PASS/FAIL lines,
the npm tools of tests/infra (installed with `npm ci` when missing, the way
infra/local installs the stand-ins) and the Terraform checker."""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
BUILD = os.environ.get('TF_BUILD') or os.path.join(ROOT, os.environ.get('BUILD', 'build'))
# The pinned Node.js (infra/local/node runs it), not the PATH's node.
NODE = os.path.join(ROOT, 'infra', 'local', 'node')
failures = 0


def result(name, ok, why=''):
    """Prints PASS name or FAIL name: why; returns ok."""
    global failures
    if ok:
        print('PASS %s' % name)
    else:
        failures += 1
        print('FAIL %s: %s' % (name, str(why).replace('\n', ' | ')[:1500]))
    sys.stdout.flush()
    return ok


def finish():
    sys.exit(1 if failures else 0)


def _install_hash():
    h = hashlib.sha256()
    for f in ('package.json', 'package-lock.json', '.npmrc'):
        with open(os.path.join(HERE, f), 'rb') as fh:
            h.update(fh.read())
    return h.hexdigest()


def ensure_npm():
    """Installs tests/infra's pinned npm packages if missing or out of date.
    Returns None, or why they cannot be had."""
    if shutil.which('npm') is None:
        return 'npm is not installed (scripts/setup installs it)'
    stamp = os.path.join(HERE, 'node_modules', '.taskfleet-install-stamp')
    want = _install_hash()
    with open(os.path.join(HERE, 'package.json')) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.path.exists(stamp) and open(stamp).read().strip() == want:
                return None
            p = subprocess.run(['npm', 'ci', '--no-audit', '--no-fund'], cwd=HERE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=600)
            if p.returncode != 0:
                return 'npm ci in tests/infra failed: ' + p.stdout[-800:]
            with open(stamp, 'w') as f:
                f.write(want + '\n')
            return None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def check_tf(directory, schema=True):
    """Runs check-tf.js on a directory; returns its JSON (checks, model)."""
    cmd = [NODE, os.path.join(HERE, 'check-tf.js'), directory]
    if schema:
        cmd.append(os.path.join(HERE, 'aws-provider-schema.json'))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError('check-tf.js failed: ' + p.stderr[-800:])
    return json.loads(p.stdout)


def node_json(script, *args):
    p = subprocess.run([NODE, '-e', script, *args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120, cwd=HERE)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-800:])
    return json.loads(p.stdout)


def build_dir_arg():
    """$BUILD as the Makefile wants it: relative to the repository root."""
    return os.path.relpath(BUILD, ROOT)


def install_tree(dest):
    """`make install PREFIX=/usr/local DESTDIR=dest` from the already built
    $BUILD (-o all: install what is built, rebuild nothing). Returns None or
    why it failed."""
    if not os.path.exists(os.path.join(BUILD, 'bin', 'taskfleet-consumer')):
        return '%s/bin/taskfleet-consumer is not built (make BUILD=%s first)' % (BUILD, build_dir_arg())
    p = subprocess.run(['make', '-s', '-o', 'all', 'BUILD=' + build_dir_arg(), 'install',
                        'PREFIX=/usr/local', 'DESTDIR=' + dest], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    return None if p.returncode == 0 else 'make install failed: ' + p.stdout[-800:]


def consumer_options():
    """The long options taskfleet-consumer's getopt table accepts."""
    src = open(os.path.join(ROOT, 'consumer', 'main.c')).read()
    import re
    return set(re.findall(r'\{\s*"([a-z][a-z-]*)",\s*(?:required|no|optional)_argument', src))
