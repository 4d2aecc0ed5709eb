// The Eraser API's docs page: Swagger UI on the OpenAPI document served next to it. "Try it out" sends requests to
// the API this page came from (its own stage), with the key given under "Authorize".
(function () {
  "use strict";
  // /dev/docs -> /dev/ ; /docs -> /
  var base = new URL(".", window.location.href).href.replace(/\/$/, "");
  var ui = window.SwaggerUIBundle({
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false,
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
  window.eraserDocs = ui;
  fetch(base + "/openapi.yaml", { headers: { Accept: "application/yaml" } })
    .then(function (response) {
      if (!response.ok) { throw new Error("GET openapi.yaml: " + response.status); }
      return response.text();
    })
    .then(function (text) {
      // The document names the deployed and local servers in general terms; this page's own API comes first so
      // that "Try it out" reaches the stage that served it.
      var here = "servers:\n  - url: " + JSON.stringify(base) + "\n    description: This API (where these docs were served from)\n";
      ui.specActions.updateSpec(text.replace(/^servers:\n/m, here));
    })
    .catch(function (error) {
      document.getElementById("swagger-ui").textContent = "Could not load the OpenAPI document: " + error.message;
    });
})();
