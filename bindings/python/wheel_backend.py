"""A PEP 517 build backend that packs lobo/ into a pure-Python wheel with the
standard library alone (pip install ./bindings/python then works offline)."""
import base64
import hashlib
import os
import zipfile

NAME, VERSION = 'lobo', '0.1.0'
INFO = '%s-%s.dist-info' % (NAME, VERSION)
FILES = {
    INFO + '/METADATA': 'Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: lobo userspace network drivers and '
                        'ports, through ctypes (needs liblobo.so)\nRequires-Python: >=3.7\n' % (NAME, VERSION),
    INFO + '/WHEEL': 'Wheel-Version: 1.0\nGenerator: lobo wheel_backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
}


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    here = os.path.dirname(os.path.abspath(__file__))
    files = {'%s/%s' % (NAME, f): open(os.path.join(here, NAME, f), 'rb').read()
             for f in sorted(os.listdir(os.path.join(here, NAME))) if f.endswith('.py')}
    files.update({k: v.encode() for k, v in FILES.items()})
    record = ''.join('%s,sha256=%s,%d\n' % (path, base64.urlsafe_b64encode(hashlib.sha256(data).digest())
                                            .rstrip(b'=').decode(), len(data)) for path, data in files.items())
    files[INFO + '/RECORD'] = (record + INFO + '/RECORD,,\n').encode()
    wheel = '%s-%s-py3-none-any.whl' % (NAME, VERSION)
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), 'w', zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel
