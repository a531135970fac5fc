// check.js: analyses KQL with Microsoft's Kusto language service, offline.
//
// Reads one JSON document on standard input:
//   {"tables":    {"Syslog": "(TimeGenerated:datetime, ...)", ...},
//    "functions": [{"name": "HookwatchRows", "params": "()", "body": "..."}],
//    "queries":   [{"name": "rules/x.yaml", "text": "..."}]}
// declares the tables and functions in one database, analyses every query
// and every function body against it (syntax, names, types), and writes
//   [{"name": ..., "diagnostics": [{"severity", "message", "start", "end", "text"}],
//     "columns": [{"name", "type"}]}]   (the result's columns, when tabular)
// Exit status 0 whatever it found (the caller judges); 2 on bad input.
"use strict";
require("@kusto/language-service-next/bridge");
require("@kusto/language-service-next/Kusto.Language.Bridge");

const S = Kusto.Language.Symbols;

function analyse(input) {
  const members = [];
  for (const [name, schema] of Object.entries(input.tables || {})) {
    members.push(new S.TableSymbol.$ctor7(name, schema, null));
  }
  for (const f of input.functions || []) {
    members.push(new S.FunctionSymbol.$ctor16(f.name, f.params || "()", "{\n" + f.body + "\n}", null));
  }
  const db = new S.DatabaseSymbol.$ctor2("workspace", null, members);
  const globals = Kusto.Language.GlobalState.Default.WithDatabase(db);

  // A function body is analysed as a query with its parameters declared
  // the way the language declares them: a let statement each.
  const items = (input.queries || []).map((q) => ({ name: q.name, text: q.text, prefix: "" }));
  for (const f of input.functions || []) {
    items.push({ name: "function " + f.name, text: f.body, prefix: letParams(f.params || "()") });
  }
  return items.map((it) => {
    const text = it.prefix + it.text;
    const code = Kusto.Language.KustoCode.ParseAndAnalyze(text, globals);
    const diagnostics = Bridge.toArray(code.GetDiagnostics()).map((d) => ({
      severity: d.Severity,
      message: d.Message,
      start: d.Start - it.prefix.length,
      end: d.End - it.prefix.length,
      text: text.substring(d.Start, d.End),
    }));
    return { name: it.name, diagnostics, columns: resultColumns(code) };
  });
}

// resultColumns lists the columns (and their types) of a tabular result.
function resultColumns(code) {
  const rt = code.ResultType;
  if (!rt || !(rt instanceof S.TableSymbol)) return [];
  return Bridge.toArray(rt.Columns).map((c) => ({ name: c.Name, type: c.Type.Name }));
}

// letParams turns "(starttime:datetime=datetime(null), x:string='*')" into
// let statements giving each parameter its default (or a typed null).
function letParams(list) {
  const inner = list.trim().replace(/^\(/, "").replace(/\)$/, "").trim();
  if (inner === "") return "";
  return inner
    .split(/,(?![^()]*\))/)
    .map((p) => {
      const m = p.trim().match(/^([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([a-z]+)(?:\s*=\s*(.+))?$/s);
      if (!m) throw new Error("cannot read parameter " + JSON.stringify(p));
      return "let " + m[1] + " = " + (m[3] !== undefined ? m[3] : m[2] + "(null)") + ";\n";
    })
    .join("");
}

let raw = "";
process.stdin.on("data", (c) => (raw += c));
process.stdin.on("end", () => {
  let out;
  try {
    out = analyse(JSON.parse(raw));
  } catch (e) {
    process.stderr.write("check.js: " + e.message + "\n");
    process.exit(2);
  }
  process.stdout.write(JSON.stringify(out) + "\n");
});
