/// The web app's Mustache templates (server-rendered HTML, no front-end build step). `{{…}}` is HTML-escaped, so
/// file names and messages from clients cannot inject markup. The upload form works without JavaScript; with it,
/// a file dropped on the page is put in the form.
enum PageTemplates {
    static let all: [String: String] = ["header": header, "footer": footer, "index": index, "analysis": analysis, "history": history]

    static let header = """
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    {{#refresh}}<meta http-equiv="refresh" content="{{refresh}}">{{/refresh}}
    <title>{{title}} · Forensight</title>
    <style>
    body{font-family:system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#222}
    header a{text-decoration:none;color:inherit;font-weight:600;margin-right:1rem}
    table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:middle}
    .FAKE{color:#b00020;font-weight:700}.REAL{color:#0a7a2f;font-weight:700}.NO_FACE,.ERROR{color:#666;font-weight:700}
    .drop{border:2px dashed #999;border-radius:8px;padding:2rem;text-align:center}.drop.over{background:#eef}
    .verdict{font-size:2rem}img.face{height:112px}
    </style></head><body>
    <header><a href="/">Forensight</a><a href="/history">History</a></header>
    <main>
    """

    static let footer = """
    </main></body></html>
    """

    static let index = """
    {{> header}}
    <h1>Is this face real?</h1>
    <p>Upload an image or a video (at most {{maxUpload}}). Forensight finds the faces, scores each with {{model}} and
    shows the verdict with its evidence.</p>
    <form id="upload" class="drop" method="post" action="/upload" enctype="multipart/form-data">
      <p><input id="file" type="file" name="file" accept="image/*,video/*" required></p>
      <p><button type="submit">Analyse</button></p>
      <p><small>or drop a file here</small></p>
    </form>
    <script>
    const form = document.getElementById('upload'), input = document.getElementById('file');
    form.addEventListener('dragover', e => { e.preventDefault(); form.classList.add('over'); });
    form.addEventListener('dragleave', () => form.classList.remove('over'));
    form.addEventListener('drop', e => { e.preventDefault(); form.classList.remove('over');
      if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; form.submit(); } });
    </script>
    {{> footer}}
    """

    static let analysis = """
    {{> header}}
    <h1>{{filename}}</h1>
    <p>Status: <strong id="status">{{status}}</strong>{{#progress}} (<span id="progress">{{progress}}</span>){{/progress}}{{#pending}} — this
    page refreshes until the analysis is done.{{/pending}}</p>
    {{#error}}<p id="error">Failed: {{error}}</p>{{/error}}
    {{#result}}
    <p class="verdict"><span id="verdict" class="{{verdict}}">{{verdict}}</span>
    {{#probability}} — P(fake) <span id="pfake">{{probability}}</span> (threshold {{threshold}}){{/probability}}</p>
    <p>{{faceCount}} face(s) in {{framesWithFaces}}/{{frames}} frame(s) of this {{kind}}; model {{modelID}}
    (weights {{modelSHA}}), aggregation {{aggregation}}.</p>
    {{#warnings}}<p><small>Warning: {{.}}</small></p>{{/warnings}}
    {{#timeline}}<h2>P(fake) over time</h2><p><img alt="P(fake) timeline" src="{{timeline}}"></p>{{/timeline}}
    <h2>Faces</h2>
    <table><tr><th>Face</th><th>Verdict</th><th>P(fake)</th><th>Frames</th><th>Most suspicious crop and heatmap</th></tr>
    {{#faces}}<tr class="face-row"><td>{{track}}</td><td class="{{verdict}}">{{verdict}}</td><td>{{probability}}</td><td>{{frames}}</td>
    <td>{{#image}}<img class="face" alt="face {{track}} and its heatmap" src="{{image}}">{{/image}}</td></tr>{{/faces}}
    </table>
    {{#hasDetectors}}<h2>Other detectors</h2>
    <table><tr><th>Detector</th><th>Looks at</th><th>Verdict</th><th>P(fake)</th><th>Threshold</th><th>Windows or faces</th></tr>
    {{#detectors}}<tr class="detector-row"><td>{{id}}</td><td>{{input}}</td><td class="{{verdict}}">{{verdict}}</td><td>{{probability}}</td>
    <td>{{threshold}}</td><td>{{units}}</td></tr>{{/detectors}}
    </table>
    <p><small>The file is FAKE when any detector calls it FAKE at its own threshold (docs/LIPSYNC.md).</small></p>{{/hasDetectors}}
    {{/result}}
    <p><a href="{{statusURL}}">JSON</a></p>
    {{> footer}}
    """

    static let history = """
    {{> header}}
    <h1>History</h1>
    <table><tr><th>File</th><th>Status</th><th>Verdict</th><th>P(fake)</th><th>Uploaded (UTC)</th></tr>
    {{#items}}<tr><td><a href="/analyses/{{id}}">{{filename}}</a></td><td>{{status}}</td><td class="{{verdict}}">{{verdict}}</td>
    <td>{{probability}}</td><td>{{created}}</td></tr>{{/items}}
    </table>
    <p>{{#previous}}<a rel="prev" href="/history?page={{previous}}">← newer</a> {{/previous}}page {{page}} of {{pages}}
    {{#next}} <a rel="next" href="/history?page={{next}}">older →</a>{{/next}}</p>
    {{> footer}}
    """
}
