//! The OpenAPI document served at `/api/v1/openapi.json`.

/// OpenAPI 3.1 description of `/api/v1`.
pub(crate) const DOCUMENT: &str = r##"{
  "openapi": "3.1.0",
  "info": {"title": "swapmesh node API", "version": "1"},
  "servers": [{"url": "http://127.0.0.1:7878"}],
  "security": [{"bearer": []}],
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "The token in the data directory's api-token file."}},
    "schemas": {
      "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
      "Money": {"type": "object", "required": ["amount", "currency"], "additionalProperties": false,
        "properties": {"amount": {"type": "integer", "minimum": 0}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"}}},
      "Price": {"type": "object", "required": ["amount", "currency", "per"], "additionalProperties": false,
        "properties": {"amount": {"type": "integer", "minimum": 0}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
          "per": {"enum": ["hour", "day", "week", "month"]}}},
      "Window": {"type": "object", "required": ["start", "end"], "additionalProperties": false,
        "properties": {"start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"}}},
      "Kind": {"enum": ["swap", "rent", "lease", "share", "give"]},
      "ListingInput": {"type": "object", "required": ["kinds", "title"], "additionalProperties": false,
        "properties": {
          "d": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"},
          "purpose": {"enum": ["offer", "want"]},
          "kinds": {"type": "array", "items": {"$ref": "#/components/schemas/Kind"}, "minItems": 1},
          "title": {"type": "string", "maxLength": 140},
          "description": {"type": "string"},
          "category": {"type": "string", "maxLength": 64},
          "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 16},
          "condition": {"enum": ["new", "like_new", "good", "fair", "poor"]},
          "price": {"$ref": "#/components/schemas/Price"},
          "deposit": {"$ref": "#/components/schemas/Money"},
          "availability": {"type": "array", "items": {"$ref": "#/components/schemas/Window"}}}},
      "Listing": {"type": "object", "properties": {
          "id": {"type": "string", "description": "<author-hex>.<d>"},
          "version": {"type": "integer"}, "version_id": {"type": "string"}, "author": {"type": "string"},
          "purpose": {"enum": ["offer", "want"]}, "kinds": {"type": "array", "items": {"$ref": "#/components/schemas/Kind"}},
          "title": {"type": "string"}, "description": {"type": "string"}, "category": {"type": "string"},
          "tags": {"type": "array", "items": {"type": "string"}}, "photos": {"type": "array", "items": {"type": "string"}},
          "price": {"$ref": "#/components/schemas/Price"}, "deposit": {"$ref": "#/components/schemas/Money"},
          "availability": {"type": "array", "items": {"$ref": "#/components/schemas/Window"}},
          "status": {"enum": ["active", "paused", "reserved", "on_loan", "withdrawn"]},
          "area": {"type": "string"}, "meshes": {"type": "array", "items": {"type": "string"}},
          "created_at": {"type": "string", "format": "date-time"}, "expires_at": {"type": "string", "format": "date-time"}}},
      "Profile": {"type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {"name": {"type": "string"}, "bio": {"type": "string"}, "contact": {"type": "array", "items": {"type": "string"}}}}
    },
    "responses": {
      "Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
  },
  "paths": {
    "/api/v1/node": {"get": {"summary": "This node", "responses": {"200": {"description": "peer id, author, listen addresses, area, meshes, version, uptime"}, "401": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/peers": {"get": {"summary": "Connected peers", "responses": {"200": {"description": "{peers: [peer id]}"}}}},
    "/api/v1/listings": {
      "get": {"summary": "Search listings", "parameters": [
          {"name": "area", "in": "query", "schema": {"type": "string"}, "description": "comma-separated geohash cells"},
          {"name": "mesh", "in": "query", "schema": {"type": "string"}},
          {"name": "kind", "in": "query", "schema": {"type": "string"}},
          {"name": "purpose", "in": "query", "schema": {"enum": ["offer", "want"]}},
          {"name": "q", "in": "query", "schema": {"type": "string"}},
          {"name": "author", "in": "query", "schema": {"type": "string"}},
          {"name": "cursor", "in": "query", "schema": {"type": "string"}},
          {"name": "limit", "in": "query", "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "{listings: [Listing], next: cursor|null}"}, "400": {"$ref": "#/components/responses/Error"}}},
      "post": {"summary": "Publish a listing", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ListingInput"}}}},
        "responses": {"201": {"description": "The listing", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Listing"}}}},
          "400": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/listings/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "get": {"summary": "A listing", "responses": {"200": {"description": "The listing"}, "404": {"$ref": "#/components/responses/Error"}}},
      "patch": {"summary": "Publish a new version", "responses": {"200": {"description": "The new version"}, "403": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}},
      "delete": {"summary": "Withdraw (tombstone)", "responses": {"200": {"description": "The tombstone"}, "403": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/profile": {"put": {"summary": "Set our profile", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Profile"}}}}, "responses": {"200": {"description": "The profile"}}}},
    "/api/v1/events": {"get": {"summary": "Server-sent events: record_added, record_changed, record_withdrawn, peer_up, peer_down, peer_discovered, peer_blocked, sync_progress, sync_finished (JSON in each data line)", "responses": {"200": {"description": "text/event-stream"}}}},
    "/api/v1/meshes": {
      "get": {"summary": "Named meshes this node is in", "responses": {"200": {"description": "{meshes: [{id, name}]}"}}},
      "post": {"summary": "Create a named mesh", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {"name": {"type": "string"}}}}}},
        "responses": {"201": {"description": "{id, name, invite}"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/meshes/join": {"post": {"summary": "Join a mesh with an invite", "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["invite"], "additionalProperties": false, "properties": {"invite": {"type": "string"}}}}}},
        "responses": {"200": {"description": "{id, name}"}, "422": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/meshes/{id}": {"delete": {"summary": "Leave a mesh", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "{id}"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/api/v1/meshes/{id}/invite": {"get": {"summary": "The invite of a mesh", "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "{id, invite}"}, "404": {"$ref": "#/components/responses/Error"}}}},
    "/metrics": {"get": {"summary": "OpenMetrics text: libp2p and the node's counters", "responses": {"200": {"description": "application/openmetrics-text"}}}},
    "/api/v1/profile/{author}": {"get": {"summary": "A profile", "parameters": [{"name": "author", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "The profile"}, "404": {"$ref": "#/components/responses/Error"}}}}
  }
}"##;
