// The local signer's page (moldsign, nationalid): the browser asks the signer
// on this computer (the MoldSign app's protocol, contract §3.3) to sign each
// content and posts each result to the service, which checks it.
// Everything the script needs is in the data-* attributes of #local-signer.
(function () {
  "use strict";

  var root = document.getElementById("local-signer");
  if (!root) {
    return;
  }
  var data = root.dataset;
  var signerUrl = data.signerUrl.replace(/\/+$/, "");
  var status = root.querySelector("[data-role=status]");
  var error = root.querySelector("[data-role=error]");
  var choose = root.querySelector("[data-role=choose]");
  var select = root.querySelector("select[name=certificate]");
  var progress = root.querySelector("[data-role=progress]");
  var signButton = root.querySelector("[data-action=sign]");
  var retryButton = root.querySelector("[data-action=retry]");
  var items = Array.prototype.slice.call(document.querySelectorAll("ul.files li[data-position]"));
  var total = items.length;
  var certificates = [];

  function text(name, values) {
    var template = data["text" + name.charAt(0).toUpperCase() + name.slice(1)] || "";
    return template.replace(/\{(\w+)\}/g, function (whole, key) {
      return values && key in values ? String(values[key]) : whole;
    });
  }

  function say(message) {
    status.textContent = message;
    status.hidden = !message;
  }

  function fail(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  function accepted() {
    return items.filter(function (item) {
      return item.dataset.accepted === "true";
    }).length;
  }

  function showProgress(k) {
    progress.hidden = false;
    progress.dataset.progress = k + "/" + total;
    progress.textContent = text("progress", { k: k, n: total });
  }

  function base64(buffer) {
    var bytes = new Uint8Array(buffer);
    var parts = [];
    for (var i = 0; i < bytes.length; i += 0x8000) {
      parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000)));
    }
    return btoa(parts.join(""));
  }

  // A failure of the signing application: its JSON {"error": ...} if any.
  async function signerError(response) {
    try {
      var body = await response.json();
      return body && body.error ? body.error : "HTTP " + response.status;
    } catch (e) {
      return "HTTP " + response.status;
    }
  }

  async function loadCertificates() {
    fail("");
    retryButton.hidden = true;
    var response;
    try {
      response = await fetch(signerUrl + "/certificates?private_only=true", { credentials: "omit", cache: "no-store" });
    } catch (e) {
      say("");
      fail(text("unavailable", { url: signerUrl }));
      retryButton.hidden = false;
      return;
    }
    if (!response.ok) {
      say("");
      fail(text("refused", { reason: await signerError(response) }));
      retryButton.hidden = false;
      return;
    }
    var body = await response.json();
    certificates = (body.certificateModel || []).filter(function (c) {
      return c.privateKeyPresent !== false;
    });
    select.textContent = "";
    certificates.forEach(function (c, index) {
      var option = document.createElement("option");
      option.value = String(index);
      option.textContent = (c.label || c.certificateName || c.subjectDN) + (c.authority ? " — " + c.authority : "");
      select.appendChild(option);
    });
    say("");
    if (!certificates.length) {
      fail(text("noCertificates"));
      retryButton.hidden = false;
      return;
    }
    choose.hidden = false;
    signButton.hidden = false;
    signButton.disabled = false;
  }

  // What the signing application signs for one content: the digest of a Hash
  // content (XAdES-T over it), or the PDF itself (PAdES-T).
  async function signRequest(item, certificate) {
    var position = item.dataset.position;
    if (data.contentType === "Hash") {
      return {
        algorithm: item.dataset.algorithm,
        certificate: certificate,
        signatureType: "Embedded",
        signFormat: "XAdES-T",
        contentType: "Text",
        data: item.dataset.hash,
        reference: item.dataset.reference,
      };
    }
    var pdf = await fetch("/" + data.requestId + "/content/" + position, { credentials: "same-origin" });
    if (!pdf.ok) {
      throw new Error("server");
    }
    return {
      algorithm: "SHA-1",
      certificate: certificate,
      signatureType: "Embedded",
      signFormat: "PAdES-T",
      contentType: "Pdf",
      data: base64(await pdf.arrayBuffer()),
    };
  }

  // Returns the base64File, or throws an Error whose message is for the user.
  async function signOne(item, certificate) {
    var body = await signRequest(item, certificate);
    var created;
    try {
      created = await fetch(signerUrl + "/sign/data", {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(text("unavailable", { url: signerUrl }));
    }
    if (created.status !== 201) {
      throw new Error(text("refused", { reason: await signerError(created) }));
    }
    var location = new URL(created.headers.get("Location") || "", signerUrl + "/").href;
    if (location.indexOf(signerUrl + "/") !== 0) {
      throw new Error(text("refused", { reason: "Location " + location }));
    }
    var result = await fetch(location, { credentials: "omit", cache: "no-store" });
    if (!result.ok) {
      throw new Error(text("refused", { reason: await signerError(result) }));
    }
    var signed = await result.json();
    if (!signed || typeof signed.base64File !== "string") {
      throw new Error(text("refused", { reason: "no base64File" }));
    }
    return signed.base64File;
  }

  // Posts one result; returns the service's JSON answer.
  async function deliver(item, base64File) {
    var response;
    try {
      response = await fetch(data.resultUrl + item.dataset.position, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": data.csrf },
        body: JSON.stringify({ base64File: base64File }),
      });
    } catch (e) {
      throw new Error(text("server"));
    }
    var answer;
    try {
      answer = await response.json();
    } catch (e) {
      throw new Error(text("server"));
    }
    if (answer.finished && answer.next) {
      window.location.assign(answer.next);
      return null;
    }
    if (!response.ok) {
      throw new Error(answer.error || text("server"));
    }
    return answer;
  }

  async function signAll() {
    var certificate = certificates[Number(select.value)];
    if (!certificate) {
      return;
    }
    fail("");
    signButton.disabled = true;
    select.disabled = true;
    try {
      for (var i = 0; i < items.length; i++) {
        var item = items[i];
        if (item.dataset.accepted === "true") {
          continue;
        }
        showProgress(accepted() + 1);
        var base64File = await signOne(item, certificate);
        var answer = await deliver(item, base64File);
        if (answer === null) {
          return; // the request has ended: on to its result
        }
        item.dataset.accepted = "true";
        if (answer.finished) {
          say(text("done"));
          window.location.assign(answer.next || data.doneUrl);
          return;
        }
      }
      window.location.assign(data.doneUrl);
    } catch (e) {
      fail(e && e.message ? e.message : text("server"));
      signButton.disabled = false;
      select.disabled = false;
    }
  }

  signButton.addEventListener("click", signAll);
  retryButton.addEventListener("click", loadCertificates);
  if (accepted() > 0) {
    showProgress(accepted());
  }
  loadCertificates();
})();
