// Passkeys (WebAuthn) for the pages that offer them: adding one on
// /account/passkeys, signing in with one on /login (a button, and the
// browser's own offer in the username field), using one as the second
// factor on /login/2fa, and confirming it is you on /account/confirm. The pages work without this file; it only shows
// the passkey controls, which stay hidden without it. Loaded from /static
// so the CSP can stay `script-src 'self'`.
(function () {
  "use strict";

  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  // --- base64url <-> ArrayBuffer ---------------------------------------
  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) {
      base64 += "=";
    }
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The server's options (base64url fields) as the browser's API wants them.
  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return options;
  }

  // A credential as the WebAuthn JSON form the server reads.
  function credentialJson(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      if (r.getTransports) {
        response.transports = r.getTransports();
      }
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) {
        response.userHandle = toText(r.userHandle);
      }
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      extensions: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {}
    };
  }

  // --- talking to the server -------------------------------------------
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      // A guard sent the browser elsewhere (to confirm it is you, or to
      // sign in): go there, as a form post would have.
      if (response.redirected) {
        window.location.assign(response.url);
        var moved = new Error("");
        moved.name = "Redirected";
        throw moved;
      }
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || "Something went wrong. Reload the page and try again.");
        }
        return data;
      });
    });
  }

  function say(status, message) {
    if (message === null) {
      return;
    }
    status.textContent = message;
    status.hidden = !message;
  }

  // A refusal by the person or the browser (cancelled, timed out) is not
  // an error worth more than a short note.
  function problem(error) {
    if (error && error.name === "Redirected") {
      return null;
    }
    if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
      return "The passkey request was cancelled or timed out.";
    }
    if (error && error.name === "InvalidStateError") {
      return "This device already holds a passkey for your account.";
    }
    return (error && error.message) || "Something went wrong.";
  }

  // --- adding a passkey ------------------------------------------------
  var addForm = document.querySelector("[data-passkey-add]");
  if (addForm) {
    var fallback = document.querySelector("[data-passkey-fallback]");
    if (fallback) {
      fallback.hidden = true;
    }
    addForm.hidden = false;
    var addStatus = document.getElementById("passkey-add-status");
    addForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = document.getElementById("passkey-name").value;
      say(addStatus, "");
      post("/account/passkeys/options", {})
        .then(function (options) {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        })
        .then(function (credential) {
          return post("/account/passkeys", { name: name, credential: credentialJson(credential) });
        })
        .then(function (data) { window.location.assign(data.redirect); })
        .catch(function (error) { say(addStatus, problem(error)); });
    });
  }

  // --- signing in --------------------------------------------------------
  var signIn = document.querySelector("[data-passkey-sign-in]");
  if (signIn) {
    var signInStatus = document.getElementById("passkey-sign-in-status");
    var next = signIn.getAttribute("data-next") || null;
    var waiting = null;

    var finish = function (credential) {
      return post("/login/passkey", { credential: credentialJson(credential), next: next })
        .then(function (data) { window.location.assign(data.redirect); });
    };

    // The browser offers passkeys in the username field (conditional
    // mediation); a click on the button asks at once instead.
    var offer = function () {
      if (!PublicKeyCredential.isConditionalMediationAvailable) {
        return;
      }
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) {
          return;
        }
        waiting = new AbortController();
        var signal = waiting.signal;
        post("/login/passkey/options", {})
          .then(function (options) {
            return navigator.credentials.get({
              publicKey: requestOptions(options), mediation: "conditional", signal: signal
            });
          })
          .then(function (credential) { return credential && finish(credential); })
          .catch(function (error) {
            // Quiet unless the server refused a passkey the person chose:
            // the offer is ended by the button, by leaving, or by browsers.
            if (!signal.aborted && error && error.name === "Error") {
              say(signInStatus, problem(error));
            }
          });
      });
    };

    signIn.hidden = false;
    document.getElementById("passkey-sign-in").addEventListener("click", function () {
      if (waiting) {
        waiting.abort();
        waiting = null;
      }
      say(signInStatus, "");
      post("/login/passkey/options", {})
        .then(function (options) {
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(finish)
        .catch(function (error) { say(signInStatus, problem(error)); });
    });
    offer();
  }

  // --- the second factor -------------------------------------------------
  var second = document.querySelector("[data-passkey-second-factor]");
  if (second) {
    var secondStatus = document.getElementById("passkey-second-factor-status");
    second.hidden = false;
    document.getElementById("passkey-second-factor").addEventListener("click", function () {
      say(secondStatus, "");
      post("/login/2fa/passkey/options", {})
        .then(function (options) {
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (credential) {
          return post("/login/2fa/passkey", { credential: credentialJson(credential) });
        })
        .then(function (data) { window.location.assign(data.redirect); })
        .catch(function (error) { say(secondStatus, problem(error)); });
    });
  }
  // --- confirming it is you ----------------------------------------------
  var confirm = document.querySelector("[data-passkey-confirm]");
  if (confirm) {
    var confirmStatus = document.getElementById("passkey-confirm-status");
    var confirmNext = confirm.getAttribute("data-next") || null;
    confirm.hidden = false;
    document.getElementById("passkey-confirm").addEventListener("click", function () {
      say(confirmStatus, "");
      post("/account/confirm/passkey/options", {})
        .then(function (options) {
          return navigator.credentials.get({ publicKey: requestOptions(options) });
        })
        .then(function (credential) {
          return post("/account/confirm/passkey", { credential: credentialJson(credential), next: confirmNext });
        })
        .then(function (data) { window.location.assign(data.redirect); })
        .catch(function (error) { say(confirmStatus, problem(error)); });
    });
  }
})();
