// The dashboard's script (issue #23): a chosen vendor CSV file read into the import form's
// text area, and the passkey ceremonies. For those the server sends WebAuthn options as
// JSON with binary fields in base64url; the browser's API wants ArrayBuffers and answers
// with them, so this file converts both ways. Served from /assets under the
// strict CSP (script-src 'self'); it reads the CSRF token from the page and sends it in the
// x-csrf-token header of every POST.
"use strict";

(function () {
  const file = document.getElementById("vendor-csv-file");
  const text = document.getElementById("vendor-csv");
  if (file && text) {
    file.addEventListener("change", () => {
      if (file.files.length > 0) file.files[0].text().then((csv) => { text.value = csv; });
    });
  }
})();

(function () {
  const box = document.getElementById("passkey");
  if (!box) return;
  const csrf = box.dataset.csrf;
  const status = document.getElementById("passkey-status");

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "result bad" : "result";
  }

  function fromB64url(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: body === undefined ? "" : JSON.stringify(body),
    });
    let answer = {};
    try {
      answer = await response.json();
    } catch (_) {
      answer = { error: "the server answered " + response.status };
    }
    if (!response.ok) throw new Error(answer.error || "the server answered " + response.status);
    return answer;
  }

  function withIds(list) {
    return (list || []).map((c) => Object.assign({}, c, { id: fromB64url(c.id) }));
  }

  async function signIn() {
    say("Waiting for your passkey…");
    const options = (await post("/dashboard/passkey/challenge")).publicKey;
    options.challenge = fromB64url(options.challenge);
    options.allowCredentials = withIds(options.allowCredentials);
    const credential = await navigator.credentials.get({ publicKey: options });
    const answer = await post("/dashboard/passkey/verify", {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      response: {
        authenticatorData: toB64url(credential.response.authenticatorData),
        clientDataJSON: toB64url(credential.response.clientDataJSON),
        signature: toB64url(credential.response.signature),
        userHandle: credential.response.userHandle
          ? toB64url(credential.response.userHandle)
          : null,
      },
      extensions: credential.getClientExtensionResults(),
    });
    say("Confirmed.");
    window.location.assign(answer.next);
  }

  async function enrol(name) {
    say("Follow your browser's prompt to create the passkey…");
    const options = (await post("/dashboard/passkeys/options")).publicKey;
    options.challenge = fromB64url(options.challenge);
    options.user = Object.assign({}, options.user, { id: fromB64url(options.user.id) });
    options.excludeCredentials = withIds(options.excludeCredentials);
    const credential = await navigator.credentials.create({ publicKey: options });
    const response = credential.response;
    const answer = await post("/dashboard/passkeys/enrol", {
      name: name,
      credential: {
        id: credential.id,
        rawId: toB64url(credential.rawId),
        type: credential.type,
        response: {
          attestationObject: toB64url(response.attestationObject),
          clientDataJSON: toB64url(response.clientDataJSON),
          transports: response.getTransports ? response.getTransports() : undefined,
        },
        extensions: credential.getClientExtensionResults(),
      },
    });
    say("Passkey added.");
    window.location.assign(answer.next);
  }

  function failed(e) {
    say("That did not work: " + e.message, true);
  }

  if (!window.PublicKeyCredential) {
    say("This browser cannot use passkeys.", true);
    return;
  }
  if (box.dataset.action === "sign-in") {
    document.getElementById("passkey-go").addEventListener("click", () => {
      signIn().catch(failed);
    });
  } else if (box.dataset.action === "enrol") {
    const form = document.getElementById("passkey-enrol");
    if (form) {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        enrol(document.getElementById("passkey-name").value).catch(failed);
      });
    }
  }
})();
