/* Scrutin's voter-side Belenios client, for the verifiable mode's ballot page.
   Our own code, no third-party library: BigInt arithmetic, crypto.getRandomValues
   and crypto.subtle (SHA-256, PBKDF2) are all it needs. It implements what a
   voter's device does in Belenios 2.0 (protocol version 1, group BELENIOS-2048):
   checking a printed credential, deriving its secret and public credential,
   reading the election record, checking the choices against the questions, and
   making the encrypted, proved and signed ballot with its tracker, byte for byte
   as the Go package voting-runtime/belenios writes it (NewBallot, Tracker), so
   that our VerifyBallot and belenios-tool accept it.

   It defines window.Belenios only where BigInt and Web Crypto exist (a secure
   context): without them the page keeps to what it can do without this file.
   BigInt arithmetic is not constant-time; the secrets it handles are the
   voter's own, on the voter's device, for the few seconds a ballot takes. */
(function () {
  "use strict";

  if (typeof BigInt !== "function" || typeof crypto === "undefined" ||
      !crypto.subtle || typeof crypto.getRandomValues !== "function") {
    return;
  }

  var BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

  // BELENIOS-2048, from the Belenios specification (section 5).
  var GROUP = {
    name: "BELENIOS-2048",
    p: BigInt("20694785691422546401013643657505008064922989295751104097100884787057374219242717401922237254497684338129066633138078958404960054389636289796393038773905722803605973749427671376777618898589872735865049081167099310535867780980030790491654063777173764198678527273474476341835600035698305193144284561701911000786737307333564123971732897913240474578834468260652327974647951137672658693582180046317922073668860052627186363386088796882120769432366149491002923444346373222145884100586421050242120365433561201320481118852408731077014151666200162313177169372189248078507711827842317498073276598828825169183103125680162072880719"),
    q: BigInt("78571733251071885079927659812671450121821421258408794611510081919805623223441"),
    g: BigInt("2402352677501852209227687703532399932712287657378364916510075318787663274146353219320285676155269678799694668298749389095083896573425601900601068477164491735474137283104610458681314511781646755400527402889846139864532661215055797097162016168270312886432456663834863635782106154918419982534315189740658186868651151358576410138882215396016043228843603930989333662772848406593138406010231675095763777982665103606822406635076697764025346253773085133173495194248967754052573659049492477631475991575198775177711481490920456600205478127054728238140972518639858334115700568353695553423781475582491896050296680037745308460627")
  };
  var P = GROUP.p, Q = GROUP.q;

  var encoder = new TextEncoder();

  // ---- arithmetic ----

  function mod(a, m) {
    var r = a % m;
    return r < 0n ? r + m : r;
  }

  // modPow is base^e mod m by square-and-multiply, for any base and e >= 0.
  function modPow(base, e, m) {
    var result = 1n;
    var b = mod(base, m);
    while (e > 0n) {
      if (e & 1n) {
        result = result * b % m;
      }
      e >>= 1n;
      if (e > 0n) {
        b = b * b % m;
      }
    }
    return result;
  }

  // A fixed-base table with 4-bit windows: rows[j][d] = base^(d·16^j) for the 64
  // nibbles of an exponent below 2^256 (960 products to build, then at most 64
  // products per exponentiation). The exponents are scalars, reduced mod Q,
  // which leaves the power unchanged for an element of the group.
  var WINDOWS = 64;

  function FixedBase(base) {
    this.rows = new Array(WINDOWS);
    var x = mod(base, P);
    for (var j = 0; j < WINDOWS; j++) {
      var row = new Array(16);
      row[0] = 1n;
      row[1] = x;
      for (var d = 2; d < 16; d++) {
        row[d] = row[d - 1] * x % P;
      }
      this.rows[j] = row;
      x = row[15] * x % P;
    }
  }

  FixedBase.prototype.exp = function (e) {
    var hex = mod(e, Q).toString(16);
    var acc = 1n;
    var rows = this.rows;
    for (var j = 0, i = hex.length - 1; i >= 0; j++, i--) {
      var d = parseInt(hex.charAt(i), 16);
      if (d !== 0) {
        acc = acc * rows[j][d] % P;
      }
    }
    return acc;
  };

  var gTable = null;

  function gExp(e) {
    if (gTable === null) {
      gTable = new FixedBase(GROUP.g);
    }
    return gTable.exp(e);
  }

  function isElement(x) {
    return x >= 0n && x < P && modPow(x, Q, P) === 1n;
  }

  // randomScalar is uniform in [0, Q): 256 random bits, drawn again while not
  // below Q (as Go's crypto/rand.Int does).
  function randomScalar() {
    var bytes = new Uint8Array(32);
    for (;;) {
      crypto.getRandomValues(bytes);
      var v = BigInt("0x" + hex(bytes));
      if (v < Q) {
        return v;
      }
    }
  }

  // ---- encodings and hashes ----

  function hex(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) {
      s += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
    }
    return s;
  }

  function sha256(text) {
    return crypto.subtle.digest("SHA-256", encoder.encode(text)).then(function (d) {
      return new Uint8Array(d);
    });
  }

  // sha256B64 is Belenios's "Base64Compact": standard alphabet, no padding.
  async function sha256B64(text) {
    var d = await sha256(text);
    var bin = "";
    for (var i = 0; i < d.length; i++) {
      bin += String.fromCharCode(d[i]);
    }
    return btoa(bin).replace(/=+$/, "");
  }

  // hash is Belenios's G.hash: SHA-256 of the prefix and the decimal numbers
  // joined by commas, read as a number, mod Q.
  async function hash(prefix, xs) {
    var d = await sha256(prefix + xs.map(String).join(","));
    return BigInt("0x" + hex(d)) % Q;
  }

  // ---- credentials ----

  // checkCredential says whether cred is "XXX-XXX-XXX-XXX-XXX" in Base58 with
  // Belenios's checksum (the first 14 digits' value plus the last digit is a
  // multiple of 53).
  function checkCredential(cred) {
    if (typeof cred !== "string" || cred.length !== 19 ||
        cred.charAt(3) !== "-" || cred.charAt(7) !== "-" || cred.charAt(11) !== "-" || cred.charAt(15) !== "-") {
      return {ok: false, reason: "malformed"};
    }
    var raw = cred.slice(0, 3) + cred.slice(4, 7) + cred.slice(8, 11) + cred.slice(12, 15) + cred.slice(16, 19);
    var v = 0n;
    for (var i = 0; i < raw.length; i++) {
      var d = BASE58.indexOf(raw.charAt(i));
      if (d < 0) {
        return {ok: false, reason: "malformed"};
      }
      if (i < 14) {
        v = v * 58n + BigInt(d);
      } else {
        v += BigInt(d);
      }
    }
    if (v % 53n !== 0n) {
      return {ok: false, reason: "checksum"};
    }
    return {ok: true};
  }

  // deriveSecret is the signing key the credential stands for in the election
  // uuid: PBKDF2-HMAC-SHA-256 of the credential as printed (dashes included),
  // salted with the uuid, 1000 iterations, 32 bytes, read big-endian, mod Q.
  async function deriveSecret(cred, uuid) {
    var key = await crypto.subtle.importKey("raw", encoder.encode(cred), "PBKDF2", false, ["deriveBits"]);
    var bits = await crypto.subtle.deriveBits(
      {name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(uuid), iterations: 1000}, key, 256);
    return BigInt("0x" + hex(new Uint8Array(bits))) % Q;
  }

  // groupOf takes a group name, the group object (Belenios.group) or an
  // election (parseElection's), and gives BELENIOS-2048, the only group of
  // Belenios 2.0's homomorphic elections; anything else throws.
  function groupOf(group) {
    var name = group === undefined ? GROUP.name :
      typeof group === "string" ? group : group === GROUP ? GROUP.name : group.group;
    if (name !== GROUP.name) {
      throw new Error("only the group " + GROUP.name + " is supported");
    }
    return GROUP;
  }

  // publicCredential is g^secret in decimal, what the voter's public credential
  // on the roll must be.
  function publicCredential(secret, group) {
    groupOf(group);
    return gExp(BigInt(secret)).toString();
  }

  // ---- the election record ----

  var DECIMAL = /^(0|[1-9][0-9]*)$/;
  var ELECTION_FIELDS = ["version", "description", "name", "group", "public_key", "questions", "uuid",
    "administrator", "credential_authority"];
  var QUESTION_FIELDS = ["answers", "blank", "min", "max", "question"];

  function onlyFields(obj, fields, what) {
    Object.keys(obj).forEach(function (k) {
      if (fields.indexOf(k) < 0) {
        throw new Error(what + ": unknown field " + k);
      }
    });
  }

  function isInt(n) {
    return typeof n === "number" && Math.floor(n) === n && isFinite(n);
  }

  // parseElection reads the election record as served (its exact text: the
  // fingerprint is the hash of these bytes, a trailing newline dropped) and checks
  // it as the Go package's ParseElection does.
  function parseElection(jsonText) {
    var raw = String(jsonText).replace(/\n$/, "");
    var e = JSON.parse(raw);
    if (e === null || typeof e !== "object" || Array.isArray(e)) {
      throw new Error("election record: not an object");
    }
    onlyFields(e, ELECTION_FIELDS, "election record");
    if (e.version !== 1) {
      throw new Error("election record: version " + e.version + " is not supported (1 is)");
    }
    if (e.group !== GROUP.name) {
      throw new Error("election record: only the group " + GROUP.name + " is supported");
    }
    if (typeof e.uuid !== "string" || e.uuid.length < 14 || !e.uuid.split("").every(function (c) {
      return BASE58.indexOf(c) >= 0;
    })) {
      throw new Error("election record: the uuid is not Base58 of at least 14 characters");
    }
    if (typeof e.public_key !== "string" || !DECIMAL.test(e.public_key)) {
      throw new Error("election record: the public key is not a decimal string");
    }
    var y = BigInt(e.public_key);
    if (!isElement(y)) {
      throw new Error("election record: the public key is not an element of the group");
    }
    if (!Array.isArray(e.questions) || e.questions.length === 0) {
      throw new Error("election record: no question");
    }
    var questions = e.questions.map(function (q, i) {
      var what = "election record: question " + (i + 1);
      if (q === null || typeof q !== "object" || Array.isArray(q)) {
        throw new Error(what + ": not a homomorphic question");
      }
      onlyFields(q, QUESTION_FIELDS, what);
      if (!Array.isArray(q.answers) || q.answers.length < 1) {
        throw new Error(what + ": a question needs answers");
      }
      if (q.blank !== undefined && typeof q.blank !== "boolean") {
        throw new Error(what + ": blank is true or false");
      }
      if (!isInt(q.min) || !isInt(q.max) || q.min < 0 || q.min > q.max || q.max > q.answers.length) {
        throw new Error(what + ": min and max must satisfy 0 <= min <= max <= answers");
      }
      return {answers: q.answers.slice(), blank: q.blank === true, min: q.min, max: q.max, question: q.question};
    });
    return {raw: raw, uuid: e.uuid, name: e.name, description: e.description, group: GROUP.name,
      publicKey: y, questions: questions, record: e};
  }

  // ---- choices ----

  // checkChoices checks choices (per question, per slot, 0 or 1, the blank slot
  // first when the question allows a blank vote) against the questions, as the
  // Go package's checkPlaintext does. It gives every problem found, as
  // {question: index from 0, reason}; question -1 when the number of questions
  // is wrong. Reasons: "questions", "slots", "not-binary", "blank-exclusive",
  // "too-few", "too-many".
  function checkChoices(election, choices) {
    var qs = election.questions;
    if (!Array.isArray(choices) || choices.length !== qs.length) {
      return [{question: -1, reason: "questions"}];
    }
    var problems = [];
    qs.forEach(function (q, i) {
      var m = choices[i];
      var slots = q.answers.length + (q.blank ? 1 : 0);
      if (!Array.isArray(m) || m.length !== slots) {
        problems.push({question: i, reason: "slots"});
        return;
      }
      var sum = 0;
      for (var k = 0; k < m.length; k++) {
        if (m[k] !== 0 && m[k] !== 1) {
          problems.push({question: i, reason: "not-binary"});
          return;
        }
        sum += m[k];
      }
      if (q.blank && m[0] === 1) {
        if (sum !== 1) {
          problems.push({question: i, reason: "blank-exclusive"});
        }
        return;
      }
      if (sum < q.min) {
        problems.push({question: i, reason: "too-few"});
      } else if (sum > q.max) {
        problems.push({question: i, reason: "too-many"});
      }
    });
    return problems;
  }

  // ---- proofs ----

  // Tables of the election keys, per election object.
  var yTables = new WeakMap();

  function yTableOf(election) {
    var t = yTables.get(election);
    if (!t) {
      t = new FixedBase(election.publicKey);
      yTables.set(election, t);
    }
    return t;
  }

  // orProve proves that disjunct real of ds holds (its Msg is its M); each
  // disjunct is {r, msg, m}: the randomness and plaintext of its ciphertext and
  // the claimed plaintext. The simulated commitments are g^(s+rc) and
  // y^(s+rc) g^((msg-m)c), what the verifier computes from the ciphertext; the
  // real one is (g^w, y^w). Only powers of g and y: both have tables.
  async function orProve(yt, prefix, ds, real) {
    var proofs = new Array(ds.length);
    var commitments = new Array(2 * ds.length);
    var sum = 0n;
    for (var i = 0; i < ds.length; i++) {
      if (i === real) {
        continue;
      }
      var d = ds[i];
      var c = randomScalar();
      var s = randomScalar();
      var u = (s + d.r * c) % Q;
      commitments[2 * i] = gExp(u);
      commitments[2 * i + 1] = yt.exp(u) * gExp(mod(BigInt(d.msg - d.m) * c, Q)) % P;
      proofs[i] = {challenge: c, response: s};
      sum += c;
    }
    var w = randomScalar();
    commitments[2 * real] = gExp(w);
    commitments[2 * real + 1] = yt.exp(w);
    var ch = mod(await hash(prefix, commitments) - sum, Q);
    proofs[real] = {challenge: ch, response: mod(w - ds[real].r * ch, Q)};
    return proofs;
  }

  // ---- canonical JSON, field for field as the Go package's wire types ----

  function jsonNumber(x) {
    return "\"" + x.toString() + "\"";
  }

  function jsonProof(p) {
    return "{\"challenge\":" + jsonNumber(p.challenge) + ",\"response\":" + jsonNumber(p.response) + "}";
  }

  function jsonProofs(ps) {
    return "[" + ps.map(jsonProof).join(",") + "]";
  }

  function jsonAnswer(a) {
    var s = "{\"choices\":[" + a.choices.map(function (c) {
      return "{\"alpha\":" + jsonNumber(c.alpha) + ",\"beta\":" + jsonNumber(c.beta) + "}";
    }).join(",") + "]";
    s += ",\"individual_proofs\":[" + a.individualProofs.map(jsonProofs).join(",") + "]";
    s += ",\"overall_proof\":" + jsonProofs(a.overallProof);
    if (a.blankProof) {
      s += ",\"blank_proof\":" + jsonProofs(a.blankProof);
    }
    return s + "}";
  }

  function jsonBallot(b) {
    var s = "{\"election_uuid\":" + JSON.stringify(b.electionUUID) +
      ",\"election_hash\":" + JSON.stringify(b.electionHash) +
      ",\"credential\":" + jsonNumber(b.credential) +
      ",\"answers\":[" + b.answers.map(jsonAnswer).join(",") + "]";
    if (b.signature) {
      s += ",\"signature\":{\"hash\":" + JSON.stringify(b.signature.hash) +
        ",\"proof\":" + jsonProof(b.signature.proof) + "}";
    }
    return s + "}";
  }

  function ciphertextsText(cs) {
    return cs.map(function (c) {
      return c.alpha.toString() + "," + c.beta.toString();
    }).join(",");
  }

  // yieldToPage lets the page paint and handle input between answers.
  function yieldToPage() {
    return new Promise(function (resolve) {
      if (typeof MessageChannel === "function") {
        var ch = new MessageChannel();
        ch.port1.onmessage = function () {
          ch.port1.close();
          resolve();
        };
        ch.port2.postMessage(null);
      } else {
        setTimeout(resolve, 0);
      }
    });
  }

  // encryptAnswer encrypts one question's choices m and proves them: every slot
  // is 0 or 1, and the question's bounds (with the blank rules) hold. step is
  // called after each slot.
  async function encryptAnswer(yt, zkp, q, m, step) {
    var n = m.length;
    var rs = new Array(n);
    var a = {choices: new Array(n), individualProofs: new Array(n), overallProof: null, blankProof: null};
    for (var i = 0; i < n; i++) {
      var r = randomScalar();
      rs[i] = r;
      a.choices[i] = {alpha: gExp(r), beta: yt.exp(r) * gExp(BigInt(m[i])) % P};
      var c = a.choices[i];
      a.individualProofs[i] = await orProve(yt, "prove|" + zkp + "|" + c.alpha + "," + c.beta + "|",
        [{r: r, msg: m[i], m: 0}, {r: r, msg: m[i], m: 1}], m[i]);
      if (i < n - 1) {
        await step();
      }
    }
    var S = zkp + "|" + ciphertextsText(a.choices);
    var first = q.blank ? 1 : 0;
    var sumR = 0n, sumM = 0, k;
    for (i = first; i < n; i++) {
      sumR += rs[i];
      sumM += m[i];
    }
    sumR %= Q;
    var od = [];
    if (q.blank) {
      var r0 = rs[0], m0 = m[0];
      // blank_proof: m0 = 0 or mΣ = 0.
      a.blankProof = await orProve(yt, "bproof0|" + S + "|",
        [{r: r0, msg: m0, m: 0}, {r: sumR, msg: sumM, m: 0}], m0 === 1 ? 1 : 0);
      // overall_proof: m0 = 1, or mΣ = min..max.
      od.push({r: r0, msg: m0, m: 1});
      for (k = q.min; k <= q.max; k++) {
        od.push({r: sumR, msg: sumM, m: k});
      }
      a.overallProof = await orProve(yt, "bproof1|" + S + "|", od, m0 === 0 ? sumM - q.min + 1 : 0);
    } else {
      var alpha = 1n, beta = 1n;
      a.choices.forEach(function (ct) {
        alpha = alpha * ct.alpha % P;
        beta = beta * ct.beta % P;
      });
      for (k = q.min; k <= q.max; k++) {
        od.push({r: sumR, msg: sumM, m: k});
      }
      a.overallProof = await orProve(yt, "prove|" + S + "|" + alpha + "," + beta + "|", od, sumM - q.min);
    }
    await step();
    return a;
  }

  // makeBallot encrypts choices for the election with the voter's credential and
  // signs the ballot: the canonical ballot JSON, as belenios-tool's verify
  // re-serializes it, and its tracker. onProgress(done, total), if given, is
  // called after each answer (each slot of each question, the blank slot
  // included); the page gets the event loop back between them. A bad credential
  // or choices throw an Error whose reason is the credential's ("malformed",
  // "checksum") or "choices" (with the problems).
  async function makeBallot(election, cred, choices, onProgress) {
    var cc = checkCredential(cred);
    if (!cc.ok) {
      var ce = new Error("the credential is " + (cc.reason === "checksum" ? "mistyped" : "malformed"));
      ce.reason = cc.reason;
      throw ce;
    }
    var problems = checkChoices(election, choices);
    if (problems.length > 0) {
      var pe = new Error("the choices do not fit the questions");
      pe.reason = "choices";
      pe.problems = problems;
      throw pe;
    }
    var total = 0, done = 0;
    choices.forEach(function (m) {
      total += m.length;
    });
    var step = async function () {
      done++;
      if (onProgress) {
        onProgress(done, total);
      }
      await yieldToPage();
    };
    var fingerprint = await sha256B64(election.raw);
    var s = await deriveSecret(cred, election.uuid);
    var credential = gExp(s);
    var yt = yTableOf(election);
    var zkp = fingerprint + "|" + credential;
    var answers = [];
    for (var qi = 0; qi < election.questions.length; qi++) {
      answers.push(await encryptAnswer(yt, zkp, election.questions[qi], choices[qi], step));
    }
    var b = {electionUUID: election.uuid, electionHash: fingerprint, credential: credential, answers: answers};
    var h = await sha256B64(jsonBallot(b));
    var w = randomScalar();
    var c = await hash("sig|" + h + "|", [gExp(w)]);
    b.signature = {hash: h, proof: {challenge: c, response: mod(w - s * c, Q)}};
    var ballot = jsonBallot(b);
    return {ballot: ballot, tracker: await sha256B64(ballot)};
  }

  window.Belenios = {
    group: GROUP,
    checkCredential: checkCredential,
    deriveSecret: deriveSecret,
    publicCredential: publicCredential,
    parseElection: parseElection,
    electionHash: function (election) {
      return sha256B64(election.raw);
    },
    checkChoices: checkChoices,
    makeBallot: makeBallot
  };
})();
