(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("papers-data").textContent);
  var rows = data.rows, limit = data.page;
  var hay = rows.map(function (r) {
    return (r[1] + " " + r[0] + " " + r[2] + " " + r[3]).toLowerCase();
  });
  var input = document.getElementById("paper-search");
  var body = document.getElementById("papers-body");
  var status = document.getElementById("papers-status");
  var arxiv = /^(\d{4}\.\d{4,5}|[a-z-]+(\.[A-Z]{2})?\/\d{7})$/;
  var web = /^https?:\/\//;
  var detail = document.getElementById("paper-detail");
  var abstract = document.getElementById("detail-abstract");
  // KaTeX options: TeX between these delimiters (longest first), never an exception (a formula
  // it cannot read shows as its source), no \href or \html* commands (trust), no console notes.
  var math = {
    delimiters: [
      {left: "$$", right: "$$", display: true},
      {left: "\\[", right: "\\]", display: true},
      {left: "\\(", right: "\\)", display: false},
      {left: "$", right: "$", display: false}
    ],
    throwOnError: false,
    trust: false,
    strict: "ignore"
  };
  function cell(tr, text) {
    var td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function link(td, href, text) {
    td.textContent = "";
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.rel = "noopener noreferrer";
    td.appendChild(a);
  }
  function render() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0, matches = 0, frag = document.createDocumentFragment();
    for (var i = 0; i < rows.length; i++) {
      var ok = true;
      for (var w = 0; w < words.length && ok; w++) ok = hay[i].indexOf(words[w]) >= 0;
      if (!ok) continue;
      matches++;
      if (shown >= limit) continue;
      shown++;
      var r = rows[i], tr = document.createElement("tr");
      tr.dataset.paperId = r[0];
      tr.dataset.row = i;
      var title = cell(tr, r[1]);
      if (arxiv.test(r[0])) link(title, "https://arxiv.org/abs/" + r[0], r[1]);
      var id = cell(tr, "");
      var open = document.createElement("button");
      open.type = "button";
      open.className = "open";
      open.textContent = r[0];
      open.setAttribute("aria-controls", "paper-detail");
      id.appendChild(open);
      cell(tr, r[2]);
      var tags = cell(tr, "");
      r[3].split(" ").filter(Boolean).forEach(function (t) {
        var s = document.createElement("span");
        s.className = "tagchip";
        s.textContent = t;
        tags.appendChild(s);
      });
      var code = cell(tr, "");
      if (web.test(r[4])) link(code, r[4], r[4].replace(web, ""));
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    status.textContent = matches.toLocaleString("en") + " of " +
      rows.length.toLocaleString("en") + " papers match" +
      (matches > shown ? "; showing the first " + shown + " (type to narrow)" : "");
  }
  // The abstract view: the listed abstract (abstract_raw) as text, then its math typeset.
  function show(i) {
    var r = rows[i];
    document.getElementById("detail-title").textContent = r[1];
    document.getElementById("detail-meta").textContent =
      [r[0], r[2], r[3]].filter(Boolean).join(" · ");
    abstract.textContent = r[5];
    if (window.renderMathInElement) window.renderMathInElement(abstract, math);
    detail.hidden = false;
    var chosen = body.querySelector("tr.chosen");
    if (chosen) chosen.classList.remove("chosen");
    var tr = body.querySelector('tr[data-row="' + i + '"]');
    if (tr) tr.classList.add("chosen");
    detail.scrollIntoView({block: "nearest"});
  }
  body.addEventListener("click", function (event) {
    if (event.target.closest("a")) return;  // links navigate
    var tr = event.target.closest("tr");
    if (tr && tr.dataset.row) show(Number(tr.dataset.row));
  });
  input.addEventListener("input", render);
  render();
})();
