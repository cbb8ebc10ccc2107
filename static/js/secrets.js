// Small helpers for secrets shown once: copy a new API key, copy, download
// or print recovery codes. The pages work without this file; it only adds
// buttons. Loaded from /static so the CSP can stay `script-src 'self'`.
(function () {
  "use strict";

  function button(text, onClick) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "secondary";
    b.textContent = text;
    b.addEventListener("click", onClick);
    return b;
  }

  function copy(text, b, done) {
    if (!navigator.clipboard) {
      return;
    }
    var label = b.textContent;
    navigator.clipboard.writeText(text).then(function () {
      b.textContent = done;
      setTimeout(function () { b.textContent = label; }, 2000);
    });
  }

  document.querySelectorAll("[data-copy-from]").forEach(function (place) {
    var source = document.getElementById(place.getAttribute("data-copy-from"));
    if (!source || !navigator.clipboard) {
      return;
    }
    var b = button(place.getAttribute("data-copy-label") || "Copy", function () {
      copy(source.textContent.trim(), b, "Copied");
    });
    place.appendChild(b);
  });

  var tools = document.querySelector("[data-recovery-tools]");
  var list = document.getElementById("recovery-codes");
  if (tools && list) {
    var codes = Array.prototype.map.call(
      list.querySelectorAll(".recovery-code"),
      function (c) { return c.textContent.trim(); }
    ).join("\n") + "\n";
    if (navigator.clipboard) {
      var c = button("Copy the codes", function () { copy(codes, c, "Copied"); });
      tools.appendChild(c);
    }
    tools.appendChild(button("Download as a text file", function () {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([codes], { type: "text/plain" }));
      link.download = location.hostname + "-recovery-codes.txt";
      document.body.appendChild(link);
      link.click();
      link.remove();
    }));
    tools.appendChild(button("Print", function () { window.print(); }));
  }
}());
