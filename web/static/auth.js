// Relais — the browser side of sign-in: passkeys (WebAuthn) and the
// password-reset link. No inline script anywhere (the CSP forbids it):
// pages include this file and it finds its elements by id.
"use strict";
(function () {
  var b64u = {
    decode: function (s) {
      s = s.replace(/-/g, "+").replace(/_/g, "/");
      while (s.length % 4) s += "=";
      var bin = atob(s), out = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out.buffer;
    },
    encode: function (buf) {
      var bytes = new Uint8Array(buf), bin = "";
      for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    }
  };

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Relais-Client-Version": "1.0" },
      body: body === undefined ? "{}" : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw new Error(j.detail || r.statusText);
        return j;
      });
    });
  }

  function showError(err) {
    var el = document.getElementById("passkey-error");
    if (!el) return;
    el.textContent = err && err.message ? err.message : String(err);
    el.hidden = false;
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: b64u.decode(c.id), transports: c.transports };
    });
  }

  // Second factor after the password.
  function passkeySignIn(next) {
    return post("/api/v1/session/passkey/begin").then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = b64u.decode(pk.challenge);
      pk.allowCredentials = descriptors(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      return post("/api/v1/session/passkey/finish", {
        id: cred.id,
        rawId: b64u.encode(cred.rawId),
        type: cred.type,
        response: {
          clientDataJSON: b64u.encode(cred.response.clientDataJSON),
          authenticatorData: b64u.encode(cred.response.authenticatorData),
          signature: b64u.encode(cred.response.signature),
          userHandle: cred.response.userHandle ? b64u.encode(cred.response.userHandle) : null
        }
      });
    }).then(function () { window.location.assign(next || "/"); });
  }

  // Adding a passkey to one's account.
  function passkeyAdd(name) {
    return post("/api/v1/passkeys/register/begin").then(function (opts) {
      var pk = opts.publicKey;
      pk.challenge = b64u.decode(pk.challenge);
      pk.user.id = b64u.decode(pk.user.id);
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      return post("/api/v1/passkeys/register/finish?name=" + encodeURIComponent(name || ""), {
        id: cred.id,
        rawId: b64u.encode(cred.rawId),
        type: cred.type,
        response: {
          clientDataJSON: b64u.encode(cred.response.clientDataJSON),
          attestationObject: b64u.encode(cred.response.attestationObject),
          transports: cred.response.getTransports ? cred.response.getTransports() : []
        }
      });
    }).then(function () { window.location.reload(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var step = document.getElementById("passkey-step");
    var go = document.getElementById("passkey-go");
    if (step && go) {
      go.addEventListener("click", function () {
        passkeySignIn(step.getAttribute("data-next")).catch(showError);
      });
    }
    var add = document.getElementById("passkey-add");
    if (add) {
      add.addEventListener("click", function () {
        var name = document.getElementById("passkey-name");
        passkeyAdd(name ? name.value : "").catch(showError);
      });
    }
    // The reset link carries its secret after #, which no server sees:
    // copy it into the form and hide the field.
    var token = document.getElementById("token");
    if (token && window.location.hash.length > 1) {
      token.value = decodeURIComponent(window.location.hash.slice(1));
      var field = document.getElementById("reset-token-field");
      if (field) field.hidden = true;
      history.replaceState(null, "", window.location.pathname);
    }
  });
})();
