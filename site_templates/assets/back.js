/* Help pages: "Back to your statement" for a reader who came from one. The pages are shared by
   every customer and know no statement's address (and no referrer is sent), so the link goes back
   in the browser's history, shown only in a tab where a statement was open (assets/pay.js marks it;
   the mark is no address). Without JavaScript, or opened on its own, the link stays hidden. */
(function () {
  var back = document.getElementById("back"), seen = false;
  try { seen = window.sessionStorage.getItem("statement-seen") === "1"; } catch (e) { seen = false; }
  if (!back || !seen || window.history.length < 2) { return; }
  back.hidden = false;
  back.querySelector("a").addEventListener("click", function (event) {
    event.preventDefault();
    window.history.back();
  });
})();
