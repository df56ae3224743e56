/* Scrutin voter pages: progressive enhancement only. Every page works without
   this file; with it, the pages count down, warn before the session ends and
   extend it without leaving the page, show times in the device's time zone,
   keep "blank vote" exclusive, go back after a wait, pad the ballot's request
   to one length whatever the choices, and keep the scrutineers' counts live. Written in ES5 for old phones. */
(function () {
  "use strict";

  var lang = document.documentElement.getAttribute("lang") || "fr";

  function byId(id) {
    return document.getElementById(id);
  }

  // plural picks data-msg-one or data-msg-other and puts n in it.
  function plural(el, prefix, n) {
    var one = n === 1 || (lang === "fr" && n === 0);
    var msg = el.getAttribute(prefix + (one ? "-one" : "-other")) || "";
    return msg.replace("{n}", String(n));
  }

  function now() {
    return Date.now ? Date.now() : new Date().getTime();
  }

  // request sends a form body (or nothing, body null) and hands the JSON answer,
  // or null, to onDone with the status.
  function request(method, url, body, onDone) {
    var xhr = new XMLHttpRequest();
    xhr.open(method, url, true);
    if (body !== null) {
      xhr.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
    }
    xhr.setRequestHeader("Accept", "application/json");
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) {
        return;
      }
      var data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (e) {
        data = null;
      }
      onDone(xhr.status, data);
    };
    xhr.send(body);
  }

  function post(url, body, onDone) {
    request("POST", url, body, onDone);
  }

  function getJSON(url, onDone) {
    request("GET", url, null, onDone);
  }

  // Times: <time datetime data-local> is written in the device's time zone.
  function localTimes() {
    if (!window.Intl || !Intl.DateTimeFormat) {
      return;
    }
    var els = document.querySelectorAll("time[data-local], time[data-local-clock]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) {
        continue;
      }
      try {
        if (el.hasAttribute("data-local")) {
          el.textContent = new Intl.DateTimeFormat(lang, {
            weekday: "long", year: "numeric", month: "long", day: "numeric",
            hour: "2-digit", minute: "2-digit", timeZoneName: "short"
          }).format(d);
        } else {
          el.textContent = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }).format(d);
        }
      } catch (e) {
        /* keep the server's text */
      }
    }
  }

  // The error summary gets the focus, so it is read first.
  function focusErrors() {
    var summary = byId("error-summary");
    if (summary) {
      summary.focus();
    }
  }

  // The code page: count down until a new code can be asked for.
  function resendCountdown() {
    var wait = byId("resend-wait");
    var button = byId("resend-button");
    if (!wait || !button) {
      return;
    }
    var left = parseInt(wait.getAttribute("data-seconds"), 10) || 0;
    if (left <= 0) {
      return;
    }
    var end = now() + left * 1000;
    button.disabled = true;
    var timer = setInterval(function () {
      var n = Math.ceil((end - now()) / 1000);
      if (n <= 0) {
        clearInterval(timer);
        button.disabled = false;
        wait.textContent = wait.getAttribute("data-msg-ready");
        wait.setAttribute("role", "status");
        return;
      }
      wait.textContent = plural(wait, "data-msg", n);
    }, 1000);
  }

  // The wait page: count down, then go back to its link (a GET: a wait page
  // never sends a form again).
  function waitCountdown() {
    var text = byId("wait-text");
    if (!text) {
      return;
    }
    var left = parseInt(text.getAttribute("data-seconds"), 10) || 1;
    var end = now() + left * 1000;
    var link = byId("retry-link");
    var timer = setInterval(function () {
      var n = Math.ceil((end - now()) / 1000);
      if (n <= 0) {
        clearInterval(timer);
        if (link) {
          window.location.href = link.href;
        }
        return;
      }
      text.textContent = plural(text, "data-msg", n);
    }, 1000);
  }

  // Blank vote and the options of a question exclude each other.
  function blankExclusive() {
    var form = byId("ballot-form");
    if (!form) {
      return;
    }
    form.addEventListener("change", function (ev) {
      var t = ev.target;
      if (!t || !t.name || t.name.indexOf("q_") !== 0 && t.name.indexOf("r_") !== 0) {
        return;
      }
      var fs = t.closest ? t.closest("fieldset") : null;
      if (!fs) {
        return;
      }
      var blank = fs.querySelector("input[data-blank]");
      if (!blank || blank.type !== "checkbox") {
        return;
      }
      var others = fs.querySelectorAll("input[type=checkbox]:not([data-blank]), select");
      var i;
      if (t === blank && blank.checked) {
        for (i = 0; i < others.length; i++) {
          if (others[i].tagName === "SELECT") {
            others[i].value = "";
          } else {
            others[i].checked = false;
          }
        }
      } else if (t !== blank && (t.checked || (t.tagName === "SELECT" && t.value))) {
        blank.checked = false;
      }
    });
  }

  // formEncode encodes s as a browser sends a form
  // (application/x-www-form-urlencoded): space as "+", all but ASCII letters,
  // digits and *-._ as %XX of UTF-8.
  function formEncode(s) {
    return encodeURIComponent(s).replace(/%20/g, "+").replace(/[!'()~]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    });
  }

  // formLength is the length of the body the browser sends for form, without the
  // field skip, with the button that sends it.
  function formLength(form, skip, submitter) {
    var n = 0;
    var count = 0;
    function add(name, value) {
      n += formEncode(name).length + 1 + formEncode(value).length;
      count++;
    }
    for (var i = 0; i < form.elements.length; i++) {
      var el = form.elements[i];
      var type = (el.type || "").toLowerCase();
      if (!el.name || el === skip || el.disabled || type === "submit" || type === "button" || type === "reset" || type === "file" || type === "image") {
        continue;
      }
      if ((type === "checkbox" || type === "radio") && !el.checked) {
        continue;
      }
      if (el.tagName === "SELECT") {
        // what the browser sends: each selected option (none may be)
        for (var j = 0; j < el.options.length; j++) {
          if (el.options[j].selected) {
            add(el.name, el.options[j].value);
          }
        }
        continue;
      }
      add(el.name, el.value.replace(/\r?\n/g, "\r\n"));
    }
    if (submitter && submitter.name) {
      add(submitter.name, submitter.value || "");
    }
    return n + Math.max(0, count - 1);
  }

  // The ballot's request has one length whatever the choices: its pad field
  // makes up the difference to data-pad-to, so that the length of the encrypted
  // request says nothing of the vote.
  function padBallot() {
    var form = byId("ballot-form");
    var pad = byId("ballot-pad");
    if (!form || !pad) {
      return;
    }
    var target = parseInt(form.getAttribute("data-pad-to"), 10) || 0;
    form.addEventListener("submit", function (ev) {
      var used = formLength(form, pad, ev.submitter || null);
      // "&pad=" and the padding
      var fill = target - used - (used > 0 ? 1 : 0) - "pad=".length;
      pad.value = fill > 0 ? new Array(fill + 1).join("x") : "";
    });
  }

  // The ballot's choices are kept in this window (sessionStorage, never on the
  // server) from the moment the form is sent until the vote is recorded, for the
  // voter whose page it is: when the form was not received (a wait page) or the
  // session had ended (signing in again brings the voter to an empty ballot: no
  // choice is sealed without a live session), the ballot shows them again.
  var KEPT = "scrutin-choices";

  function storage() {
    try {
      return window.sessionStorage || null;
    } catch (e) {
      return null;
    }
  }

  function keepChoices() {
    var store = storage();
    var main = document.querySelector("main[data-page]");
    if (!store || !main) {
      return;
    }
    var page = main.getAttribute("data-page");
    if (page === "receipt" || page === "already-voted" || page === "signed-out" || page === "closed") {
      store.removeItem(KEPT);
      return;
    }
    var form = byId("ballot-form");
    var voter = byId("session-voter");
    if (!form || !voter) {
      return;
    }
    var id = voter.textContent;
    var kept = null;
    try {
      kept = JSON.parse(store.getItem(KEPT) || "null");
    } catch (e) {
      kept = null;
    }
    store.removeItem(KEPT);
    var chosen = form.querySelector("input:checked");
    var selects = form.querySelectorAll("select");
    var i;
    for (i = 0; i < selects.length && !chosen; i++) {
      if (selects[i].value) {
        chosen = selects[i];
      }
    }
    if (kept && kept.voter === id && kept.fields && !chosen) {
      var restored = false;
      for (i = 0; i < form.elements.length; i++) {
        var el = form.elements[i];
        var values = kept.fields[el.name];
        if (!el.name || !values) {
          continue;
        }
        if (el.type === "checkbox" || el.type === "radio") {
          el.checked = values.indexOf(el.value) >= 0;
          restored = restored || el.checked;
        } else if (el.tagName === "SELECT") {
          el.value = values[0];
          restored = restored || !!el.value;
        }
      }
      var msg = form.getAttribute("data-msg-kept");
      if (restored && msg && !byId("notice")) {
        var notice = document.createElement("div");
        notice.id = "notice";
        notice.className = "notice";
        notice.setAttribute("role", "status");
        var p = document.createElement("p");
        p.textContent = msg;
        notice.appendChild(p);
        main.insertBefore(notice, main.firstChild);
      }
    }
    form.addEventListener("submit", function () {
      var fields = {};
      for (var j = 0; j < form.elements.length; j++) {
        var el = form.elements[j];
        if (!el.name || (el.name.indexOf("q_") !== 0 && el.name.indexOf("r_") !== 0)) {
          continue;
        }
        if ((el.type === "checkbox" || el.type === "radio") && !el.checked) {
          continue;
        }
        (fields[el.name] = fields[el.name] || []).push(el.value);
      }
      try {
        store.setItem(KEPT, JSON.stringify({ voter: id, fields: fields }));
      } catch (e) {
        /* nothing kept: the voter chooses again */
      }
    });
  }

  // The session: show when it ends, warn well before, extend without leaving.
  function session() {
    var box = byId("session-status");
    if (!box) {
      return;
    }
    // data-warn="0": the vote is cast, nothing to warn about.
    var warnAt = parseInt(box.getAttribute("data-warn"), 10) || 0;
    var end = now() + (parseInt(box.getAttribute("data-remaining"), 10) || 0) * 1000;
    var warning = byId("session-warning");
    var warningText = byId("session-warning-text");
    var remaining = byId("session-remaining");
    var expiry = byId("session-expiry");
    var extendButton = byId("extend-button");
    var warningButton = byId("session-warning-extend");
    var ended = false;
    var passThrough = false;

    function tick() {
      var left = Math.max(0, Math.round((end - now()) / 1000));
      var minutes = Math.ceil(left / 60);
      if (remaining) {
        remaining.textContent = plural(box, "data-msg-in", minutes);
      }
      if (warnAt <= 0) {
        return;
      }
      if (left <= 0) {
        if (!ended) {
          ended = true;
          warningText.textContent = box.getAttribute("data-msg-ended");
          warningButton.hidden = true;
          warning.hidden = false;
        }
        return;
      }
      if (left <= warnAt) {
        var msg = plural(box, "data-msg-warn", minutes);
        if (warning.hidden || warningText.textContent !== msg) {
          warningText.textContent = msg;
        }
        warning.hidden = false;
      } else {
        warning.hidden = true;
      }
    }

    function extend(ev) {
      if (ended || passThrough) {
        return; // the form goes to the server, which keeps the choices
      }
      if (ev) {
        ev.preventDefault();
      }
      post("/session/extend", "return=json", function (status, data) {
        if (status === 200 && data && typeof data.remainingSeconds === "number") {
          end = now() + data.remainingSeconds * 1000;
          if (expiry && data.expiresAt) {
            expiry.setAttribute("datetime", data.expiresAt);
            expiry.textContent = data.expiresText || expiry.textContent;
            localTimes();
          }
          warning.hidden = true;
          var notice = byId("session-text");
          if (notice) {
            notice.setAttribute("role", "status");
          }
          tick();
          if (extendButton) {
            extendButton.focus();
          }
          return;
        }
        if (status === 401) {
          ended = true;
          end = now();
          tick();
          return;
        }
        // Anything else: send the form the ordinary way.
        if (extendButton) {
          passThrough = true;
          extendButton.click();
        }
      });
    }

    if (extendButton) {
      extendButton.addEventListener("click", extend);
    }
    if (warningButton) {
      warningButton.addEventListener("click", extend);
    }
    tick();
    setInterval(tick, 5000);
  }

  // The scrutineers' counts, kept live.
  function participation() {
    var box = byId("participation");
    if (!box) {
      return;
    }
    var url = box.getAttribute("data-url");
    var every = (parseInt(box.getAttribute("data-interval"), 10) || 15) * 1000;
    setInterval(function () {
      getJSON(url, function (status, data) {
        if (status !== 200 || !data) {
          return;
        }
        byId("count-voters").textContent = data.voters;
        byId("count-cast").textContent = data.ballotsCast;
        byId("turnout").textContent = data.turnout;
        byId("updated-time").textContent = data.updatedAt;
      });
    }, every);
  }

  function start() {
    localTimes();
    focusErrors();
    resendCountdown();
    waitCountdown();
    blankExclusive();
    padBallot();
    keepChoices();
    session();
    participation();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
