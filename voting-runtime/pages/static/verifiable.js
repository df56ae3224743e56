/* Scrutin: the verifiable mode's ballot page. Four steps, all on this device:
   (1) the Belenios signing credential from the voter's letter, checked here
   (its checksum, then that it is the signed-in voter's: g^secret equals the
   public credential the page carries); (2) the choices, checked against each
   question's bounds; (3) their review; (4) the ballot encrypted and signed
   here (belenios.js), then cast with POST /api/v1/ballot {"belenios": ...}.
   Neither the choices nor the credential are ever sent: only the encrypted
   ballot is. Without what the encryption needs (BigInt, Web Crypto, fetch),
   the page keeps its notice that says how else to vote. */
(function () {
  "use strict";

  var lang = document.documentElement.getAttribute("lang") || "fr";

  function byId(id) {
    return document.getElementById(id);
  }

  function capable() {
    return typeof BigInt === "function" && window.crypto && window.crypto.subtle &&
      typeof window.fetch === "function" && typeof Promise === "function" && window.Belenios;
  }

  function start() {
    var app = byId("vb-app");
    if (!app || !capable()) {
      return; // the notice stays: this browser cannot encrypt the ballot here
    }
    var live = byId("vb-live");
    var credInput = byId("vb-credential");
    var steps = {
      credential: byId("vb-step-credential"),
      choices: byId("vb-step-choices"),
      review: byId("vb-step-review"),
      cast: byId("vb-step-cast"),
      receipt: byId("vb-step-receipt")
    };
    var headings = {
      credential: byId("vb-h-credential"),
      choices: byId("vb-h-choices"),
      review: byId("vb-h-review"),
      cast: byId("vb-h-cast"),
      receipt: byId("vb-h-receipt")
    };
    var questions = Array.prototype.slice.call(steps.choices.querySelectorAll("fieldset.question"));
    // what the device holds until the ballot is cast, and nowhere else
    var state = { election: null, credential: null, choices: null, ballot: null, busy: false };

    function msg(name) {
      return app.getAttribute("data-msg-" + name) || "";
    }

    function plural(name, n) {
      var one = n === 1 || (lang === "fr" && n === 0);
      return msg(name + (one ? "-one" : "-other")).replace("{n}", String(n));
    }

    // announce says text in the page's one polite live region.
    function announce(text) {
      live.textContent = "";
      window.setTimeout(function () {
        live.textContent = text;
      }, 50);
    }

    function show(step) {
      Object.keys(steps).forEach(function (k) {
        steps[k].hidden = k !== step;
      });
      headings[step].focus();
    }

    byId("vb-nojs").hidden = true;
    app.hidden = false;

    // Step 1: the credential.
    var credError = byId("vb-credential-error");
    var credErrorText = byId("vb-credential-error-text");
    var checkButton = byId("vb-credential-check");

    function credentialError(text) {
      credErrorText.textContent = text;
      credError.hidden = false;
      credInput.setAttribute("aria-invalid", "true");
      credInput.setAttribute("aria-describedby", "vb-credential-hint vb-credential-error");
      credInput.focus();
      announce(text);
    }

    function clearCredentialError() {
      credError.hidden = true;
      credErrorText.textContent = "";
      credInput.removeAttribute("aria-invalid");
      credInput.setAttribute("aria-describedby", "vb-credential-hint");
    }

    // loadElection reads the election record (a GET: nothing of the voter's
    // is sent), once.
    function loadElection() {
      if (state.election) {
        return Promise.resolve(state.election);
      }
      return fetch(app.getAttribute("data-election-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (res) {
          if (!res.ok) {
            throw new Error("election record: HTTP " + res.status);
          }
          return res.text();
        })
        .then(function (text) {
          state.election = window.Belenios.parseElection(text);
          return state.election;
        });
    }

    async function checkCredential() {
      if (state.busy) {
        return;
      }
      var cred = credInput.value.trim();
      clearCredentialError();
      if (cred === "") {
        credentialError(msg("cred-empty"));
        return;
      }
      var form = window.Belenios.checkCredential(cred);
      if (!form.ok) {
        credentialError(msg(form.reason === "checksum" ? "cred-checksum" : "cred-malformed"));
        return;
      }
      state.busy = true;
      checkButton.disabled = true;
      announce(msg("cred-checking"));
      try {
        var election = await loadElection();
        var secret = await window.Belenios.deriveSecret(cred, electionUUID(election));
        var pub = window.Belenios.publicCredential(secret, electionGroup(election));
        if (pub !== app.getAttribute("data-public-credential")) {
          credentialError(msg("cred-other"));
          return;
        }
      } catch (e) {
        credentialError(msg("cred-failed"));
        return;
      } finally {
        state.busy = false;
        checkButton.disabled = false;
      }
      state.credential = cred;
      announce(msg("cred-ok"));
      show("choices");
    }

    checkButton.addEventListener("click", checkCredential);
    credInput.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") {
        ev.preventDefault();
        checkCredential();
      }
    });

    // Step 2: the choices. Per question, its option inputs in order and its
    // blank one, if any; blank and the options exclude each other.
    function parts(fs) {
      var inputs = Array.prototype.slice.call(fs.querySelectorAll("input"));
      return {
        options: inputs.filter(function (i) { return !i.hasAttribute("data-blank"); }),
        blank: inputs.filter(function (i) { return i.hasAttribute("data-blank"); })[0] || null
      };
    }

    questions.forEach(function (fs) {
      var p = parts(fs);
      if (!p.blank) {
        return;
      }
      p.blank.addEventListener("change", function () {
        if (p.blank.checked) {
          p.options.forEach(function (o) { o.checked = false; });
        }
      });
      p.options.forEach(function (o) {
        o.addEventListener("change", function () {
          if (o.checked) {
            p.blank.checked = false;
          }
        });
      });
    });

    // problemOf is what is wrong with a question's answer: "none", "few",
    // "many", "both" or "" (as the server's ballot page says it).
    function problemOf(fs) {
      var p = parts(fs);
      var n = p.options.filter(function (o) { return o.checked; }).length;
      var blank = p.blank !== null && p.blank.checked;
      var min = parseInt(fs.getAttribute("data-min"), 10);
      var max = parseInt(fs.getAttribute("data-max"), 10);
      if (blank && n > 0) {
        return "both";
      }
      if (blank) {
        return "";
      }
      if (n === 0) {
        return "none";
      }
      if (n < min) {
        return "few";
      }
      if (n > max) {
        return "many";
      }
      return "";
    }

    // plaintext is the choices as Belenios takes them: per question its slots,
    // the blank one first when the question allows blank.
    function plaintext() {
      return questions.map(function (fs) {
        var p = parts(fs);
        var slots = p.options.map(function (o) { return o.checked ? 1 : 0; });
        if (fs.getAttribute("data-allow-blank") === "true") {
          slots.unshift(p.blank && p.blank.checked ? 1 : 0);
        }
        return slots;
      });
    }

    var summary = byId("vb-choices-summary");
    var summaryList = byId("vb-choices-summary-list");

    function showProblems(problems) {
      summaryList.textContent = "";
      questions.forEach(function (fs) {
        var id = fs.id.replace(/^fs_/, "");
        var err = byId("err_" + id);
        var kind = problems[fs.id];
        fs.classList.toggle("field-has-error", !!kind);
        if (!kind) {
          err.hidden = true;
          fs.setAttribute("aria-describedby", "hint_" + id);
          return;
        }
        byId("errtext_" + id).textContent = fs.getAttribute("data-err-" + kind) || msg("invalid");
        err.hidden = false;
        fs.setAttribute("aria-describedby", "hint_" + id + " err_" + id);
        var li = document.createElement("li");
        var a = document.createElement("a");
        a.href = "#" + fs.getAttribute("data-first");
        a.textContent = fs.getAttribute("data-sum-" + kind) || msg("invalid");
        li.appendChild(a);
        summaryList.appendChild(li);
      });
      summary.hidden = summaryList.children.length === 0;
      if (!summary.hidden) {
        summary.focus();
      }
    }

    function toReview() {
      var problems = {};
      var any = false;
      questions.forEach(function (fs) {
        var k = problemOf(fs);
        if (k) {
          problems[fs.id] = k;
          any = true;
        }
      });
      var choices = plaintext();
      if (!any && state.election) {
        // the encryption's own check, which must agree
        window.Belenios.checkChoices(state.election, choices).forEach(function (e) {
          if (questions[e.question]) {
            problems[questions[e.question].id] = "invalid";
            any = true;
          }
        });
      }
      showProblems(problems);
      if (any) {
        return;
      }
      state.choices = choices;
      renderReview();
      show("review");
    }

    byId("vb-to-review").addEventListener("click", toReview);

    // Step 3: the review, built on this device from the choices.
    function renderReview() {
      var list = byId("vb-review-list");
      list.textContent = "";
      questions.forEach(function (fs) {
        var p = parts(fs);
        var h = document.createElement("h3");
        h.textContent = fs.querySelector("legend").textContent;
        var ul = document.createElement("ul");
        var chosen = p.options.filter(function (o) { return o.checked; });
        if (chosen.length === 0) {
          chosen = [null];
        }
        chosen.forEach(function (o) {
          var li = document.createElement("li");
          li.textContent = o ? fs.querySelector('label[for="' + o.id + '"]').textContent : msg("blank");
          ul.appendChild(li);
        });
        list.appendChild(h);
        list.appendChild(ul);
      });
    }

    byId("vb-change").addEventListener("click", function () {
      show("choices");
    });

    // Step 4: encrypt, then cast.
    var progress = byId("vb-progress");
    var progressText = byId("vb-progress-text");
    var castError = byId("vb-cast-error");
    var castErrorText = byId("vb-cast-error-text");
    var castErrorReason = byId("vb-cast-error-reason");
    var retry = byId("vb-retry");
    var signInAgain = byId("vb-sign-in-again");

    function setProgress(pct) {
      progress.value = pct;
      progressText.textContent = msg("progress").replace("{n}", String(pct));
    }

    function failCast(text, opts) {
      opts = opts || {};
      castErrorText.textContent = text;
      castErrorReason.textContent = opts.reason || "";
      castErrorReason.hidden = !opts.reason;
      retry.hidden = !opts.retry;
      signInAgain.hidden = !opts.signIn;
      castError.hidden = false;
      announce(text + (opts.reason ? " " + opts.reason : ""));
      castError.focus();
    }

    async function encrypt() {
      castError.hidden = true;
      state.ballot = null;
      show("cast");
      setProgress(0);
      var quarter = 0;
      try {
        var made = await window.Belenios.makeBallot(state.election, state.credential, state.choices, function (done, total) {
          var pct = total > 0 ? Math.floor(done * 100 / total) : 100;
          setProgress(pct);
          var q = total > 0 ? Math.floor(done * 4 / total) : 4;
          if (q > quarter) {
            quarter = q;
            announce(msg("progress").replace("{n}", String(q * 25)));
          }
        });
        state.ballot = made;
      } catch (e) {
        failCast(msg("err-encrypt"), { retry: true });
        return;
      }
      setProgress(100);
      await send();
    }

    async function send() {
      castError.hidden = true;
      progressText.textContent = msg("sending");
      announce(msg("sending"));
      var res;
      var data = null;
      try {
        res = await fetch(app.getAttribute("data-ballot-url"), {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ belenios: state.ballot.ballot })
        });
        try {
          data = await res.json();
        } catch (e) {
          data = null;
        }
      } catch (e) {
        failCast(msg("err-network"), { retry: true });
        return;
      }
      var code = data && data.error;
      if (res.status === 201 && data && data.tracker) {
        if (data.tracker !== state.ballot.tracker) {
          failCast(msg("err-mismatch"));
          return;
        }
        receipt(data.tracker);
        return;
      }
      if (res.status === 401) {
        failCast(msg("err-signed-out"), { signIn: true });
      } else if (code === "closed") {
        failCast(msg("err-closed"));
      } else if (code === "not-open") {
        failCast(msg("err-not-open"));
      } else if (res.status === 503 || res.status === 429) {
        var secs = (data && data.retryAfterSeconds) || parseInt(res.headers.get("Retry-After"), 10) || 5;
        failCast(plural("err-busy", secs), { retry: true });
      } else if (res.status === 422 || res.status === 409 || res.status === 400) {
        failCast(msg("err-refused"), { reason: (data && data.message) || String(res.status) });
      } else {
        failCast(msg("err-network"), { retry: true });
      }
    }

    function receipt(tracker) {
      // nothing of the vote stays on the page but its tracker
      state.credential = null;
      state.choices = null;
      credInput.value = "";
      questions.forEach(function (fs) {
        parts(fs).options.concat(parts(fs).blank || []).forEach(function (i) { i.checked = false; });
      });
      byId("vb-review-list").textContent = "";
      byId("vb-tracker").textContent = tracker;
      byId("vb-find-link").href = "/board?tracker=" + encodeURIComponent(tracker);
      show("receipt");
      announce(msg("recorded"));
    }

    byId("vb-cast").addEventListener("click", function () {
      encrypt();
    });
    retry.addEventListener("click", function () {
      if (state.ballot) {
        send();
      } else {
        encrypt();
      }
    });
  }

  // electionUUID and electionGroup read the parsed election record.
  function electionUUID(election) {
    return election.uuid;
  }

  function electionGroup(election) {
    return election.group;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
