#!/usr/bin/env python3
# playground/embed.py: writes the page's data scripts, so the page works opened
# from a file (no fetch): `embed.py wasm IN.wasm OUT.js` (the module as base64)
# and `embed.py models OUT.js LABEL:OF:FILE...` (the example models' text, with
# the node the page measures first).
import base64, json, os, sys

def write(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)  # atomically: a half-written script never loads

if sys.argv[1] == 'wasm':
    data = open(sys.argv[2], 'rb').read()
    write(sys.argv[3], 'var NABLA_WASM_BASE64 = "%s";\n' % base64.b64encode(data).decode())
elif sys.argv[1] == 'models':
    models = []
    for arg in sys.argv[3:]:
        label, of, path = arg.split(':', 2)
        models.append({'label': label, 'of': of, 'file': os.path.basename(path),
                       'text': open(path, encoding='utf-8').read()})
    write(sys.argv[2], 'var NABLA_MODELS = %s;\n' % json.dumps(models, ensure_ascii=False, indent=1))
else:
    sys.exit('embed.py: wasm IN OUT | models OUT LABEL:OF:FILE...')
