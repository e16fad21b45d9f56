"""The OpenAPI 3.1 document of the service, written by hand (served at ``/openapi.json``)."""

from __future__ import annotations

__all__ = ["openapi_document"]


def _error() -> dict:
    return {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _json(ref: str, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _param(name: str, where: str, schema: dict, required: bool = False, description: str = "") -> dict:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema,
            "description": description}


def openapi_document() -> dict:
    """Return the OpenAPI document.

    Returns
    -------
    document : dict
    """
    from .. import __version__

    errors = {"400": _error(), "401": _error(), "403": _error(), "404": _error(), "408": _error(), "413": _error(),
              "422": _error(), "503": _error(), "504": _error()}
    model_q = _param("model", "query", {"type": "string"}, description="model name (server default if omitted)")
    version_q = _param("version", "query", {"type": "string"}, description="version number or alias")
    n_q = _param("n", "query", {"type": "integer", "minimum": 1, "default": 10})
    name_p = _param("name", "path", {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"})
    version_p = _param("version", "path", {"type": "string"})
    infer_op = {"summary": "Open Inference Protocol inference",
                "description": ("n-d models take input-0 of shape [n, *input_shape]. Models of clips "
                                "of any length (input_shapes with -1) also take clips of different "
                                "lengths: input-0 padded at the end to the longest (padding values "
                                "are ignored but must be finite) and an INT64 input 'lengths' of "
                                "shape [n], 1 <= lengths[i] <= the padded frame count."),
                "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}}}},
        "responses": {"200": _json("InferResponse"), **errors}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "maaskit model service", "version": __version__,
                 "description": "KServe V2 inference and recommendation endpoints over a maaskit registry."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                    "type": "object", "required": ["type", "message"],
                    "properties": {"type": {"type": "string"}, "message": {"type": "string"}, "detail": {}}}}},
                "Tensor": {"type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
                    "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"enum": ["BOOL", "INT32", "INT64", "FP32", "FP64", "BYTES"]},
                    "data": {"type": "array"}}},
                "InferRequest": {"type": "object", "required": ["inputs"], "properties": {
                    "id": {"type": "string"}, "parameters": {"type": "object"},
                    "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                    "outputs": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}}}},
                "InferResponse": {"type": "object", "properties": {
                    "model_name": {"type": "string"}, "model_version": {"type": "string"}, "id": {"type": "string"},
                    "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}}}},
                "Recommendations": {"type": "object", "properties": {
                    "model": {"type": "string"}, "version": {"type": "integer"}, "user_id": {},
                    "fallback": {"type": "boolean"}, "note": {"type": "string"},
                    "items": {"type": "array"}, "scores": {"type": "array", "items": {"type": ["number", "null"]}}}},
                "FeatureValue": {"description": "a string, number, bool, null (missing) or a list of labels",
                                 "type": ["string", "number", "boolean", "null", "array"],
                                 "items": {"type": ["string", "number", "boolean", "null"]}},
                "UserFeatures": {"type": "object", "description": "column -> value, for the columns of the "
                                 "model's signature (user_features); a column left out is missing",
                                 "additionalProperties": {"$ref": "#/components/schemas/FeatureValue"}},
                "NewUserRequest": {"type": "object", "required": ["user_features"], "properties": {
                    "user_features": {"oneOf": [
                        {"$ref": "#/components/schemas/UserFeatures"},
                        {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/UserFeatures"}}]},
                    "n": {"type": "integer", "minimum": 1, "default": 10},
                    "items": {"type": "array", "minItems": 1, "description": "candidate item ids (default: "
                              "every item); an unknown id is a 404"}}},
                "NewUserRow": {"type": "object", "properties": {
                    "items": {"type": "array"}, "scores": {"type": "array", "items": {"type": ["number", "null"]}},
                    "note": {"type": "string", "description": "feature values not seen in training, ignored"}}},
                "NewUserRecommendations": {"type": "object", "properties": {
                    "model": {"type": "string"}, "version": {"type": "integer"},
                    "items": {"type": "array"}, "scores": {"type": "array", "items": {"type": ["number", "null"]}},
                    "note": {"type": "string"},
                    "results": {"type": "array", "description": "one row per object when user_features is a list",
                                "items": {"$ref": "#/components/schemas/NewUserRow"}}}},
                "HistoryRequest": {"type": "object", "required": ["history"], "additionalProperties": False,
                                   "properties": {
                    "history": {"type": "array", "items": {"type": ["string", "number"]},
                                "description": "item ids, oldest first (at most the server's max_history)"},
                    "n": {"type": "integer", "minimum": 1, "default": 10},
                    "exclude_seen": {"type": "boolean", "default": True}}},
                "HistoryRecommendations": {"type": "object", "properties": {
                    "model": {"type": "string"}, "version": {"type": "integer"},
                    "fallback": {"type": "boolean"}, "unknown_items": {"type": "integer"},
                    "note": {"type": "string"}, "items": {"type": "array"},
                    "scores": {"type": "array", "items": {"type": ["number", "null"]}},
                    "popularity": {"type": "array", "items": {"type": ["number", "null"]}}}},
                "Similar": {"type": "object", "properties": {
                    "model": {"type": "string"}, "version": {"type": "integer"}, "item_id": {},
                    "items": {"type": "array"}, "scores": {"type": "array", "items": {"type": ["number", "null"]}}}},
                "Vector": {"type": "object", "properties": {
                    "model": {"type": "string"}, "version": {"type": "integer"}, "word": {"type": "string"},
                    "vector": {"type": "array", "items": {"type": "number"}}}},
                "PredictRequest": {"type": "object", "required": ["instances"], "properties": {
                    "instances": {"type": "array", "description": (
                        "Feature rows; or, for n-d models, one nested list per sample in a shape the "
                        "model's signature lists under input_shapes (-1: any length, e.g. a clip's "
                        "frames; clips of different lengths may be sent together); or [user, item] "
                        "pairs for a recommender.")},
                    "version": {"type": ["string", "integer"]},
                    "strict": {"type": "boolean", "default": False},
                    "method": {"enum": ["predict", "predict_proba", "decision_function", "transform"]}}},
                "PredictResponse": {"type": "object", "properties": {
                    "model": {"type": "string"}, "version": {"type": "integer"}, "method": {"type": "string"},
                    "predictions": {"type": "array"}, "fallback": {"type": "array", "items": {"type": "boolean"}},
                    "notes": {"type": "array", "items": {"type": ["string", "null"]}}}},
                "ModelVersion": {"type": "object", "properties": {
                    "signed": {"type": ["boolean", "null"],
                               "description": "stored signed with the registry's key; null: not recorded"}}},
                "ModelVersions": {"type": "object", "required": ["name", "versions"], "properties": {
                    "name": {"type": "string"}, "can_promote": {"type": "boolean"},
                    "versions": {"type": "array", "items": {"$ref": "#/components/schemas/ModelVersion"}}}},
                "History": {"type": "object", "required": ["name", "version", "history"], "properties": {
                    "name": {"type": "string"}, "version": {"type": "integer"},
                    "history": {"type": "object", "description": "series name -> one value per epoch",
                                "additionalProperties": {"type": "array",
                                                         "items": {"type": ["number", "null"]}}}}},
            },
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {
            "/v2/health/live": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "live"}}}},
            "/v2/health/ready": {"get": {"summary": "Readiness", "security": [], "responses": {"200": {"description": "ready"}}}},
            "/v2": {"get": {"summary": "Server metadata", "security": [], "responses": {"200": {"description": "metadata"}}}},
            "/v2/models/{name}": {"get": {"summary": "Model metadata", "parameters": [name_p],
                                          "responses": {"200": {"description": "metadata"}, **errors}}},
            "/v2/models/{name}/versions/{version}": {"get": {"summary": "Model version metadata",
                                                             "parameters": [name_p, version_p],
                                                             "responses": {"200": {"description": "metadata"}, **errors}}},
            "/v2/models/{name}/ready": {"get": {"summary": "Model readiness", "parameters": [name_p],
                                                "responses": {"200": {"description": "ready"}, **errors}}},
            "/v2/models/{name}/versions/{version}/ready": {"get": {"summary": "Model version readiness",
                                                                   "parameters": [name_p, version_p],
                                                                   "responses": {"200": {"description": "ready"}, **errors}}},
            "/v2/models/{name}/infer": {"post": {**infer_op, "parameters": [name_p]}},
            "/v2/models/{name}/versions/{version}/infer": {"post": {**infer_op, "parameters": [name_p, version_p]}},
            "/v1/recommend/{user_id}": {"get": {
                "summary": "Top-n items for a user",
                "description": "The user id in the path is text and is converted to the model's id kind. An "
                               "unknown user gets the most popular items with fallback=true, unless strict=true "
                               "(404).",
                "parameters": [_param("user_id", "path", {"type": "string"}), model_q, version_q, n_q,
                               _param("exclude_seen", "query", {"type": "boolean", "default": True}),
                               _param("strict", "query", {"type": "boolean", "default": False},
                                      description="404 for an unknown user instead of the fallback")],
                "responses": {"200": _json("Recommendations"), **errors}}},
            "/v1/recommend": {"post": {
                "summary": "Top-n items for a posted history (sequential models) or new users' features (hybrid models)",
                "description": "The body is a HistoryRequest or a NewUserRequest. History (sequential "
                               "models, e.g. SASRec): for an anonymous session, a new user, or plays newer "
                               "than the model. Items the model does not know are dropped (counted in "
                               "unknown_items); a history with no known item gets the most popular items "
                               "with fallback=true. A non-sequential model answers 400 (unsupported); a "
                               "history longer than max_history 413, n above max_n 422. The KServe V2 infer "
                               "endpoint takes the same as an input named 'history' (BYTES or INT64, shape "
                               "[L] or [B, L]). user_features (a model fitted with user features, e.g. "
                               "HybridMF): each object (column -> value, the columns of the signature's "
                               "user_features) is a user with no history, ranked through the model's "
                               "recommend_new_user. Unknown columns are a 400; a model without user features "
                               "is a 400; values not seen in training are ignored and named in the row's note. "
                               "Limits: max_users objects, max_output_cells objects x n, max_history "
                               "characters per string.",
                "parameters": [model_q, version_q],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/HistoryRequest"},
                    {"$ref": "#/components/schemas/NewUserRequest"}]}}}},
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"oneOf": [
                    {"$ref": "#/components/schemas/HistoryRecommendations"},
                    {"$ref": "#/components/schemas/NewUserRecommendations"}]}}}}, **errors}}},
            "/v1/similar/{item_id}": {"get": {
                "summary": "Most similar items (or words, for a model holding word vectors)",
                "parameters": [_param("item_id", "path", {"type": "string"}), model_q, version_q, n_q],
                "responses": {"200": _json("Similar"), **errors}}},
            "/v1/vector/{word}": {"get": {
                "summary": "The vector of a word (models holding word vectors, e.g. Word2Vec)",
                "parameters": [_param("word", "path", {"type": "string"}), model_q, version_q],
                "responses": {"200": _json("Vector"), **errors}}},
            "/v1/predict/{model}": {"post": {
                "summary": "predict / predict_proba on instances",
                "parameters": [_param("model", "path", {"type": "string"})],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
                "responses": {"200": _json("PredictResponse"), **errors}}},
            "/v1/models": {"get": {"summary": "List readable models",
                                   "parameters": [_param("search", "query", {"type": "string"}),
                                                  _param("tag", "query", {"type": "string"})],
                                   "responses": {"200": {"description": "models"}, **errors}}},
            "/v1/models/{name}": {
                "get": {"summary": "Versions of a model, with their metrics, checksums, signatures and aliases",
                        "description": "can_promote says whether the key may move this model's aliases "
                                       "(a publish scope on a server started with --allow-publish).",
                        "parameters": [name_p],
                        "responses": {"200": _json("ModelVersions"), **errors}},
                "post": {"summary": "Publish an artifact (needs --allow-publish and a publish scope)",
                         "parameters": [name_p, _param("meta", "query", {"type": "string"},
                                                       description="JSON: description, tags, metrics, alias")],
                         "requestBody": {"required": True, "content": {"application/octet-stream": {
                             "schema": {"type": "string", "format": "binary"}}}},
                         "responses": {"201": _json("ModelVersion", "Published"), **errors}}},
            "/v1/models/{name}/aliases/{alias}": {"put": {
                "summary": "Move an alias (needs --allow-publish and a publish scope)",
                "parameters": [name_p, _param("alias", "path", {"type": "string"})],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"version": {"type": "integer"}}}}}},
                "responses": {"200": {"description": "moved"}, **errors}}},
            "/v1/models/{name}/history": {"get": {
                "summary": "The training history (learning curve) recorded when a version was published",
                "parameters": [name_p, _param("version", "query", {"type": "string"},
                                              description="version number or alias (default: production, "
                                                          "else latest)")],
                "responses": {"200": _json("History"), **errors}}},
            "/ui": {"get": {"summary": "The model market web page (static; its data calls need a key)",
                            "security": [], "responses": {"200": {"description": "HTML", "content": {
                                "text/html": {"schema": {"type": "string"}}}}, "404": _error()}}},
            "/ui/{file}": {"get": {"summary": "A static file of the model market page",
                                   "security": [], "parameters": [_param("file", "path", {
                                       "enum": ["index.html", "app.js", "style.css"]})],
                                   "responses": {"200": {"description": "the file"}, "404": _error()}}},
            "/metrics": {"get": {"summary": "Prometheus metrics (a key with the 'metrics' scope, unless the "
                                            "server runs with --public-metrics)",
                                 "responses": {"200": {"description": "text exposition format"}, **errors}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI"}}}},
        },
    }
