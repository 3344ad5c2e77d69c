/* Statement pay forms: the choice follows what the customer ticks or types, and the button says
   what will be charged. Without this script each form is a plain post and the service checks it.

   Money is integer minor units (BigInt): each choice and invoice box carries its amount as
   data-minor, a typed amount is read as the payment service reads it (money.parse_amount, rounded
   half up to the currency's decimals), and amounts are printed as site.money_formatter prints them
   (data-prefix, data-exponent on the form). No amount ever passes through a float. */
"use strict";

/* This tab has a statement open: a help page opened from it offers the way back (assets/back.js). */
try { window.sessionStorage.setItem("statement-seen", "1"); } catch (e) { /* storage refused: no way back shown */ }

(function () {
  if (typeof BigInt !== "function") {
    return; // an old browser: the plain form still works
  }
  var SYMBOLS = /^[$€£¥]+/; // the ones parse_amount strips
  var GROUPED = /^[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?$/; // 1,234,567.89
  var PLAIN = /^([0-9]*)(?:\.([0-9]*))?$/;
  var PRECISION = 28; // Decimal's default: parse_amount refuses amounts with more digits

  /* A typed amount in minor units, or null where the payment service would refuse to read it. */
  function parseMinor(text, exponent) {
    var s = text.trim();
    if (!s) {
      return null;
    }
    var negative = false;
    if (s.charAt(0) === "(" && s.charAt(s.length - 1) === ")") {
      negative = true;
      s = s.slice(1, -1).trim();
    }
    s = s.replace(SYMBOLS, "");
    if (s.charAt(0) === "-" || s.charAt(0) === "+") {
      negative = (s.charAt(0) === "-") !== negative;
      s = s.slice(1).trim();
    }
    s = s.replace(SYMBOLS, "").replace(/[\u00a0 ]/g, "");
    if (s.indexOf(",") >= 0) {
      if (!GROUPED.test(s)) {
        return null;
      }
      s = s.replace(/,/g, "");
    }
    var m = PLAIN.exec(s);
    if (!m || !(m[1] + (m[2] || ""))) {
      return null;
    }
    var fraction = m[2] || "";
    var up = fraction.length > exponent && fraction.charAt(exponent) >= "5"; // half up
    fraction = fraction.slice(0, exponent);
    while (fraction.length < exponent) {
      fraction += "0";
    }
    var minor = BigInt((m[1] || "0") + fraction) + (up ? 1n : 0n);
    if (minor.toString().length > PRECISION) {
      return null;
    }
    return negative ? -minor : minor;
  }

  /* "$1,389.05", "¥184,000", "SEK 10.00": as site.money_formatter prints a positive amount. */
  function formatMinor(minor, prefix, exponent) {
    var digits = minor.toString();
    while (digits.length <= exponent) {
      digits = "0" + digits;
    }
    var whole = digits.slice(0, digits.length - exponent).replace(/\B(?=(?:[0-9]{3})+$)/g, ",");
    return prefix + whole + (exponent ? "." + digits.slice(digits.length - exponent) : "");
  }

  function setUp(form) {
    var prefix = form.getAttribute("data-prefix");
    var exponent = Number(form.getAttribute("data-exponent"));
    var amount = form.elements.namedItem("amount");
    var button = form.querySelector("button[type=submit]");
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=invoice]"));
    if (prefix === null || !(exponent >= 0) || !amount || !button) {
      return;
    }

    function chosen() {
      return form.querySelector("input[name=choice]:checked");
    }

    function ticked() {
      return boxes.filter(function (b) { return b.checked; });
    }

    /* Select a choice and empty what belongs to the others, so the form asks for one thing. */
    function choose(value) {
      var radio = form.querySelector("input[name=choice][value=" + value + "]");
      if (radio) {
        radio.checked = true;
      }
      if (value !== "invoices") {
        boxes.forEach(function (b) { b.checked = false; });
      }
      if (value !== "amount") {
        amount.value = "";
      }
    }

    /* What the service will be asked to charge, in minor units; null if nothing (yet) valid. */
    function charge() {
      var radio = chosen();
      var value = radio ? radio.value : "";
      if (value === "balance" || value === "overdue") {
        return BigInt(radio.getAttribute("data-minor"));
      }
      if (value === "invoices") {
        var boxesTicked = ticked();
        return boxesTicked.length ? boxesTicked.reduce(function (sum, b) {
          return sum + BigInt(b.getAttribute("data-minor"));
        }, 0n) : null;
      }
      if (value === "amount") {
        var minor = parseMinor(amount.value, exponent);
        return minor !== null && minor > 0n ? minor : null;
      }
      return null;
    }

    function label() {
      var minor = charge();
      var text = minor === null ? "Pay now" : "Pay " + formatMinor(minor, prefix, exponent);
      if (button.textContent !== text) {
        button.textContent = text; // aria-live="polite" on the button reads the new text out
      }
    }

    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.name === "choice") {
        choose(target.value);
      } else if (target.name === "invoice") {
        if (target.checked) {
          choose("invoices");
        } else if (!ticked().length && chosen() && chosen().value === "invoices") {
          choose("balance");
        }
      }
      label();
    });
    amount.addEventListener("input", function () {
      if (amount.value.trim()) {
        choose("amount");
      } else if (chosen() && chosen().value === "amount") {
        choose("balance");
      }
      label();
    });

    /* The state a reload or the back button restored: one consistent choice, and its label. */
    function settle() {
      var radio = chosen();
      var value = radio ? radio.value : "balance";
      if ((value === "invoices" && !ticked().length) || (value === "amount" && !amount.value.trim())) {
        value = "balance";
      }
      choose(value);
      label();
    }
    settle();
    window.addEventListener("pageshow", settle);
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.pay"), setUp);
})();
