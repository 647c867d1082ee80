"""Regenerates the bad-input corpus (and a few valid files) that tests/corpus.rs checks against expected.json.

Run from this directory: python3 make_corpus.py. Output is deterministic.
"""

import gzip
import io
import json
import random

LABELS = ["facturacion", "soporte", "ventas", "Otros"]
TEXTS = [
    "No me llega la factura de octubre",
    "Me cobraron dos veces el mismo mes",
    "La aplicación se cierra al abrir el historial",
    "No puedo iniciar sesión desde ayer",
    "¿Tienen plan para empresas grandes?",
    "Quiero contratar el plan anual",
    "Gracias por la atención de ayer",
    "Tengo una duda sobre mi cuenta",
]


def rows(n, start=0):
    return [(f"{TEXTS[i % len(TEXTS)]} (caso {start + i})", LABELS[i % len(LABELS)]) for i in range(n)]


def csv_text(pairs, header="text,label", newline="\n"):
    out = [header]
    for text, label in pairs:
        out.append('"' + text.replace('"', '""') + '",' + label)
    return newline.join(out) + newline


def jsonl_text(pairs):
    return "".join(json.dumps({"text": t, "label": l, "id": i}, ensure_ascii=False) + "\n" for i, (t, l) in enumerate(pairs))


def write(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(name, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(data)


def gz(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


random.seed(7)
write("valid.csv", csv_text(rows(20)))
multiline = rows(19) + [("Primera línea\r\nsegunda línea, con coma y \"comillas\"", "soporte")]
write("valid-bom-crlf-multiline.csv", "\ufeff" + csv_text(multiline, newline="\r\n"))
write("valid.jsonl", jsonl_text(rows(20)))
write("valid.jsonl.gz", gz(jsonl_text(rows(20)).encode()))
write("empty.csv", b"")
write("header-only.csv", "text,label\n")
write("binary.csv", bytes(random.randrange(256) for _ in range(4096)))
write("latin1.csv", csv_text(rows(20)).encode("latin-1"))
write("missing-column.csv", "text,categoria\n" + "".join(f'"{t}",{l}\n' for t, l in rows(20)))
write("ragged.csv", csv_text(rows(20)) + '"una fila con columna de más",ventas,extra\n')
write("unterminated-quote.csv", csv_text(rows(20)) + '"esta comilla nunca se cierra,ventas\n')
write("malformed.jsonl", jsonl_text(rows(20)) + '{"text": "sin cerrar", "label": "ventas"\n')
write("array.json", json.dumps([{"text": t, "label": l} for t, l in rows(20)], ensure_ascii=False))
write("non-string-text.jsonl", jsonl_text(rows(20)) + json.dumps({"text": 12345, "label": "ventas"}) + "\n")
write("truncated.csv.gz", gz(csv_text(rows(200)).encode())[:-40])
write("bomb.csv.gz", gz(b"text,label\n" + b"0" * (64 * 1024 * 1024)))
write("huge-line.jsonl", jsonl_text(rows(20)) + json.dumps({"text": "a" * 500_000, "label": "ventas"}) + "\n")
write("unknown-label.csv", csv_text(rows(20) + [("Etiqueta que no existe en el contrato", "spam")]))
write("nulls.csv", csv_text(rows(20) + [("   ", "ventas"), ("", "soporte")]))
write("duplicates.csv", csv_text(rows(20) + rows(5)))
write("text-length.csv", csv_text(rows(20) + [("no", "ventas"), ("x" * 300, "soporte")]))
write("unknown-extension.txt", csv_text(rows(20)))
