#!/usr/bin/env python3
"""infra_systemd.py - checks infra/systemd: systemd's own verifier on the unit
(in a root where `make install` put the binaries), its security score
(systemd-analyze security --offline), the sysusers file (systemd-sysusers
--dry-run), and that restart, stop signal, stop timeout and sandboxing fit the
consumer's graceful shutdown. Each verifier is also shown to fail on a broken
copy. taskfleet-api.service (`taskfleet serve`) gets the same verifiers and
the same sandbox, and its stop, flags and environment file are checked
against serve's (issue 25)."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'infra'))
from common import ROOT, result, finish, install_tree, consumer_options  # noqa: E402

D = os.path.join(ROOT, 'infra', 'systemd')
UNIT = 'taskfleet-consumer.service'
API_UNIT = 'taskfleet-api.service'
MAX_EXPOSURE = 2.0


def unit_settings(text):
    out = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in '#;':
            continue
        if line.startswith('['):
            section = line.strip('[]')
            continue
        k, _, v = line.partition('=')
        out.setdefault((section, k.strip()), []).append(v.strip())
    return out


def verify(root, unit_path):
    """systemd-analyze verify: its exit status alone is not enough (it warns
    about bad values and exits 0), so any output is a problem."""
    p = subprocess.run(['systemd-analyze', 'verify', '--root=' + root, '--man=no', unit_path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    return p.returncode, lines


def exposure(path):
    p = subprocess.run(['systemd-analyze', 'security', '--offline=yes', '--no-pager', path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    m = re.search(r'Overall exposure level for \S+: ([0-9.]+)', p.stdout)
    return float(m.group(1)) if m else None, p.stdout[-500:]


def main():
    text = open(os.path.join(D, UNIT)).read()
    if not result('systemd_analyze_available', shutil.which('systemd-analyze') is not None,
                  'systemd-analyze is missing: install the Debian package systemd'):
        return
    tmp = tempfile.mkdtemp(prefix='tf-systemd-')
    try:
        why = install_tree(tmp)
        if not result('make_install_into_root', why is None, why):
            return
        os.makedirs(os.path.join(tmp, 'usr/lib/systemd'), exist_ok=True)
        shutil.copytree('/usr/lib/systemd/system', os.path.join(tmp, 'usr/lib/systemd/system'), symlinks=True)
        unitdir = os.path.join(tmp, 'etc/systemd/system')
        os.makedirs(unitdir)
        shutil.copy(os.path.join(D, UNIT), unitdir)
        rc, lines = verify(tmp, '/etc/systemd/system/' + UNIT)
        result('systemd_analyze_verify', rc == 0 and not lines, 'exit %d: %s' % (rc, ' | '.join(lines[:10])))
        for name, old, new in [('bad_value', 'KillMode=mixed', 'KillMode=mixd'),
                               ('unknown_directive', 'ProtectHome=yes', 'ProtectHom=yes'),
                               ('missing_binary', '/usr/local/bin/taskfleet-consumer', '/usr/local/bin/taskfleet-consumr')]:
            with open(os.path.join(unitdir, 'broken.service'), 'w') as f:
                f.write(text.replace(old, new))
            rc, lines = verify(tmp, '/etc/systemd/system/broken.service')
            result('systemd_verify_catches_' + name, rc != 0 or lines, 'a unit with %s passed verify' % new)
        score, out = exposure(os.path.join(D, UNIT))
        result('systemd_security_exposure', score is not None and score <= MAX_EXPOSURE,
               'exposure %s (at most %s wanted): %s' % (score, MAX_EXPOSURE, out if score is None else ''))
        bare = os.path.join(tmp, 'bare.service')
        with open(bare, 'w') as f:
            f.write('[Service]\nExecStart=/usr/local/bin/taskfleet-consumer\n')
        score, out = exposure(bare)
        result('systemd_security_check_catches_unsandboxed', score is not None and score > MAX_EXPOSURE,
               'an unsandboxed unit scored %s' % score)
        check_api_verify(tmp, unitdir)
        users = os.path.join(tmp, 'sysusers-root')
        os.makedirs(users)
        p = subprocess.run(['systemd-sysusers', '--dry-run', '--root=' + users, os.path.join(D, 'taskfleet.sysusers')],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
        result('sysusers_creates_taskfleet_user', p.returncode == 0 and "Creating user 'taskfleet'" in p.stdout, p.stdout[-400:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    s = unit_settings(text)
    get = lambda sec, k: (s.get((sec, k)) or [None])[-1]  # noqa: E731
    result('unit_restart_on_failure', get('Service', 'Restart') == 'on-failure', get('Service', 'Restart'))
    result('unit_stop_signal_sigterm_to_consumer', get('Service', 'KillSignal') in ('SIGTERM', 'TERM') and
           get('Service', 'KillMode') == 'mixed', 'KillSignal=%s KillMode=%s' % (get('Service', 'KillSignal'), get('Service', 'KillMode')))
    main_c = open(os.path.join(ROOT, 'consumer', 'main.c')).read()
    exec_start = get('Service', 'ExecStart') or ''
    m = re.search(r'--shutdown-timeout[ =](\d+)', exec_start)
    shutdown = int(m.group(1)) if m else int(re.search(r'shutdown_timeout_s = (\d+);', main_c).group(1))
    stop = get('Service', 'TimeoutStopSec') or ''
    result('unit_stop_timeout_above_shutdown_and_watchdog', stop.isdigit() and int(stop) > shutdown + 15,
           'TimeoutStopSec=%s, shutdown timeout %d s + the watchdog\'s 15 s' % (stop, shutdown))
    want = {'NoNewPrivileges': 'yes', 'ProtectSystem': 'strict', 'ProtectHome': 'yes', 'PrivateTmp': 'yes'}
    bad = {k: get('Service', k) for k, v in want.items() if get('Service', k) != v}
    result('unit_sandboxing', not bad, bad)
    sysusers = open(os.path.join(D, 'taskfleet.sysusers')).read()
    user = get('Service', 'User')
    result('unit_dedicated_user', user not in (None, 'root', '0') and re.search(r'^u %s ' % re.escape(user or '-'), sysusers, re.M),
           'User=%s; sysusers: %s' % (user, sysusers.strip().splitlines()[-1]))
    args = exec_start.split()
    opts = consumer_options()
    unknown = [a for a in args[1:] if a.startswith('--') and a[2:].split('=')[0] not in opts]
    result('unit_exec_start_installed_binary_and_known_flags', args and args[0] == '/usr/local/bin/taskfleet-consumer' and not unknown,
           'ExecStart=%s; flags the consumer does not know: %s' % (exec_start, unknown))
    env_file = get('Service', 'EnvironmentFile') or ''
    readme = open(os.path.join(D, 'README.md')).read() if os.path.exists(os.path.join(D, 'README.md')) else ''
    # The settings may be documented on any page: the README or docs/*.md.
    top = ''.join(open(p).read() for p in [os.path.join(ROOT, 'README.md')] +
                  sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md'))))
    keys = [ln.split('=')[0].lstrip('# ') for ln in open(os.path.join(D, 'consumer.env.example'))
            if re.match(r'^#? ?[A-Z_]+=', ln)]
    undocumented = [k for k in keys if k not in top]
    result('env_file_documented', env_file and env_file in readme and keys and not undocumented,
           'EnvironmentFile=%s; README mentions it: %s; variables not in README.md or docs/: %s' % (env_file, env_file in readme, undocumented))
    missing = [w for w in ['systemd-sysusers', 'useradd', 'systemctl enable', 'consumer.env', 'journalctl'] if w not in readme]
    result('readme_install_steps', not missing, 'infra/systemd/README.md lacks %s' % missing)
    check_api_settings(s, readme, top)


def check_api_verify(tmp, unitdir):
    """systemd's verifiers on taskfleet-api.service, in the installed tree."""
    text = open(os.path.join(D, API_UNIT)).read()
    shutil.copy(os.path.join(D, API_UNIT), unitdir)
    rc, lines = verify(tmp, '/etc/systemd/system/' + API_UNIT)
    result('api_systemd_analyze_verify', rc == 0 and not lines, 'exit %d: %s' % (rc, ' | '.join(lines[:10])))
    with open(os.path.join(unitdir, 'broken-api.service'), 'w') as f:
        f.write(text.replace('/usr/local/bin/taskfleet ', '/usr/local/bin/taskflet '))
    rc, lines = verify(tmp, '/etc/systemd/system/broken-api.service')
    result('api_systemd_verify_catches_missing_binary', rc != 0 or lines, 'a unit running taskflet passed verify')
    score, out = exposure(os.path.join(D, API_UNIT))
    result('api_systemd_security_exposure', score is not None and score <= MAX_EXPOSURE,
           'exposure %s (at most %s wanted): %s' % (score, MAX_EXPOSURE, out if score is None else ''))


def check_api_settings(consumer, readme, docs):
    """taskfleet-api.service: hardened as the consumer's unit, stopping
    within serve's request limit, running `taskfleet serve` with flags it
    knows and an environment file whose variables are documented."""
    s = unit_settings(open(os.path.join(D, API_UNIT)).read())
    get = lambda k: (s.get(('Service', k)) or [None])[-1]  # noqa: E731
    # Every sandbox setting of the consumer's unit, with the same value,
    # but its state directory (serve keeps nothing on disk).
    skip = {'ExecStart', 'EnvironmentFile', 'StateDirectory', 'StateDirectoryMode', 'Environment', 'TimeoutStopSec'}
    differ = {k: (v[-1], (s.get((sec, k)) or [None])[-1]) for (sec, k), v in consumer.items()
              if sec == 'Service' and k not in skip and (s.get((sec, k)) or [None])[-1] != v[-1]}
    result('api_unit_hardened_as_consumer', not differ, 'setting: (consumer, api) %s' % differ)
    api_h = open(os.path.join(ROOT, 'producer', 'api.h')).read()
    limit = int(re.search(r'#define API_REQUEST_TIMEOUT_S (\d+)', api_h).group(1))
    stop = get('TimeoutStopSec') or ''
    result('api_unit_stop_timeout_above_request_limit', stop.isdigit() and int(stop) > limit,
           'TimeoutStopSec=%s, a request may take %d s' % (stop, limit))
    src = open(os.path.join(ROOT, 'producer', 'cmd_serve.c')).read()
    opts = set(re.findall(r'\{\s*"([a-z][a-z-]*)",\s*(?:required|no|optional)_argument', src))
    args = (get('ExecStart') or '').split()
    unknown = [a for a in args[2:] if a.startswith('--') and a[2:].split('=')[0] not in opts]
    result('api_unit_exec_start_serve_known_flags', args[:2] == ['/usr/local/bin/taskfleet', 'serve']
           and '--listen' in args and '--no-auth' not in args and 'listen' in opts and not unknown,
           'ExecStart=%s; flags serve does not know: %s' % (' '.join(args), unknown))
    env_file = get('EnvironmentFile') or ''
    keys = [ln.split('=')[0].lstrip('# ') for ln in open(os.path.join(D, 'api.env.example'))
            if re.match(r'^#? ?[A-Z_]+=', ln)]
    undocumented = [k for k in keys if k not in docs]
    result('api_env_file_documented', env_file == '/etc/taskfleet/api.env' and env_file in readme
           and 'TASKFLEET_API_KEYS_SECRET' in keys and API_UNIT in readme and not undocumented,
           'EnvironmentFile=%s; in README: %s; undocumented: %s' % (env_file, env_file in readme, undocumented))


main()
finish()
