package app

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/clusterlab/clusterlab/operations"
)

// openapi serves the OpenAPI document, rebuilt when the registry changes.
func (a *API) openapi(w http.ResponseWriter, _ *http.Request) {
	a.openapiMu.Lock()
	v := a.registry.Version()
	if a.openapiDoc == nil || a.openapiVersion != v {
		doc, err := json.Marshal(OpenAPI(a.registry, a.cfg.Version))
		if err != nil {
			a.openapiMu.Unlock()
			writeError(w, &operations.Error{Code: operations.CodeInternal, Message: "building the OpenAPI document: " + err.Error(), Err: err})
			return
		}
		a.openapiDoc, a.openapiVersion = doc, v
	}
	doc := a.openapiDoc
	a.openapiMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(doc)
}

type obj = map[string]any

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func errorResponses(codes ...string) obj {
	out := obj{}
	for _, c := range codes {
		out[c] = obj{"$ref": "#/components/responses/Error"}
	}
	return out
}

func jsonContent(schema obj) obj {
	return obj{"application/json": obj{"schema": schema}}
}

// OpenAPI returns the OpenAPI 3.0 document of the API for the operations
// in reg: the fixed routes, one path per operation (GET describes it, POST
// runs it with its parameter schema as the body) and the resource routes
// whose operations are registered.
func OpenAPI(reg *operations.Registry, version string) map[string]any {
	if version == "" {
		version = "dev"
	}
	errResp := errorResponses("400", "401", "404", "422", "502", "504", "default")
	paths := obj{
		APIPrefix + "/operations": obj{"get": obj{
			"operationId": "list_operations", "tags": []any{"catalog"},
			"summary":   "The operation catalog, with a JSON schema for each operation's parameters and the operations that failed to load",
			"responses": merge(obj{"200": obj{"description": "the catalog", "content": jsonContent(ref("Catalog"))}}, errorResponses("401", "default")),
		}},
		APIPrefix + "/openapi.json": obj{"get": obj{
			"operationId": "openapi", "tags": []any{"catalog"}, "summary": "This document",
			"responses": merge(obj{"200": obj{"description": "the OpenAPI document", "content": jsonContent(obj{"type": "object"})}}, errorResponses("401", "default")),
		}},
		APIPrefix + "/info": obj{"get": obj{
			"operationId": "info", "tags": []any{"catalog"}, "summary": "What this API serves: observer, simulated or not, versions",
			"responses": merge(obj{"200": obj{"description": "the info", "content": jsonContent(ref("Info"))}}, errorResponses("401", "default")),
		}},
		APIPrefix + "/events": obj{"get": obj{
			"operationId": "events", "tags": []any{"events"},
			"summary":     "Server-Sent Events: membership (coalesced), process.exits (coalesced), operations, resync and topics other parts publish",
			"description": "Each event has an id; reconnect with the Last-Event-ID header (or last_event_id) to receive only newer ones. A resync event means events were missed and the state should be reloaded.",
			"parameters": []any{
				obj{"name": "Last-Event-ID", "in": "header", "schema": obj{"type": "string"}, "description": "resume after this event id"},
				obj{"name": "last_event_id", "in": "query", "schema": obj{"type": "string"}, "description": "resume after this event id (for clients that cannot set headers)"},
				obj{"name": "topics", "in": "query", "schema": obj{"type": "string"}, "description": "comma-separated topics to receive; default all"},
			},
			"responses": merge(obj{"200": obj{"description": "the event stream", "content": obj{"text/event-stream": obj{"schema": obj{"type": "string"}}}}}, errorResponses("400", "401", "default")),
		}},
	}
	entries := reg.List()
	byName := map[string]operations.Entry{}
	for _, e := range entries {
		byName[e.Spec.Name] = e
		s := e.Spec
		post := obj{
			"operationId": "run_" + s.Name, "tags": []any{s.Category},
			"summary":     s.Summary,
			"description": runDescription(s),
			"responses": merge(obj{
				"200": obj{"description": "the result: " + s.Result, "content": jsonContent(ref("RunResult"))},
			}, errResp),
		}
		body := obj{"required": hasRequired(s), "content": jsonContent(s.ParamsSchema())}
		post["requestBody"] = body
		if s.Destructive {
			post["parameters"] = []any{obj{"name": ConfirmHeader, "in": "header", "required": true,
				"schema": obj{"type": "string", "enum": []any{"true"}}, "description": "confirms a destructive operation"}}
			post["responses"].(obj)["428"] = obj{"$ref": "#/components/responses/Error"}
		}
		paths[APIPrefix+"/operations/"+s.Name] = obj{
			"get": obj{
				"operationId": "describe_" + s.Name, "tags": []any{s.Category},
				"summary":   "Describe " + s.Name,
				"responses": merge(obj{"200": obj{"description": "the operation's catalog entry", "content": jsonContent(ref("CatalogEntry"))}}, errorResponses("401", "404", "default")),
			},
			"post": post,
		}
	}
	for _, res := range resources {
		e, ok := byName[res.op]
		if !ok {
			continue
		}
		p := APIPrefix + strings.ReplaceAll(res.pattern, "...}", "}")
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		var params []any
		inPath := map[string]bool{}
		for _, seg := range strings.Split(res.pattern, "/") {
			if strings.HasPrefix(seg, "{") {
				inPath[strings.TrimSuffix(strings.Trim(seg, "{}"), "...")] = true
			}
		}
		for _, prm := range e.Spec.Params {
			schema := prm.Schema()
			if prm.Type == operations.TypeObject {
				schema = obj{"type": "string", "description": "a JSON object"}
			}
			if inPath[prm.Name] {
				params = append(params, obj{"name": prm.Name, "in": "path", "required": true, "schema": schema, "description": prm.Description})
				continue
			}
			q := obj{"name": prm.Name, "in": "query", "required": prm.Required, "schema": schema, "description": prm.Description}
			if prm.Type == operations.TypeList {
				q["style"], q["explode"] = "form", false
			}
			params = append(params, q)
		}
		op := obj{
			"operationId": strings.ToLower(res.method) + "_" + res.op, "tags": []any{e.Spec.Category},
			"summary":   res.summary + " (runs " + res.op + ")",
			"responses": merge(obj{"200": obj{"description": e.Spec.Result, "content": jsonContent(obj{})}}, errResp),
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		item[strings.ToLower(res.method)] = op
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "clusterlab API",
			"version":     version,
			"description": "Every action is an operation from the registry: GET /api/v1/operations lists them, POST /api/v1/operations/{name} runs one. Errors are {\"error\":{\"code\",\"message\",\"details\",\"remediation\"}}.",
		},
		"security": []any{obj{"bearer": []any{}}},
		"paths":    paths,
		"components": obj{
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}},
			"responses": obj{
				"Error": obj{"description": "an error envelope; the code says what kind", "content": jsonContent(ref("Error"))},
			},
			"schemas": obj{
				"Error": obj{
					"type": "object", "required": []any{"error"},
					"properties": obj{"error": obj{
						"type": "object", "required": []any{"code", "message"},
						"properties": obj{
							"code":        obj{"type": "string"},
							"message":     obj{"type": "string"},
							"details":     obj{"type": "object", "additionalProperties": true},
							"remediation": obj{"type": "string"},
						},
					}},
				},
				"RunResult": obj{
					"type": "object", "required": []any{"operation", "result"},
					"properties": obj{
						"operation":  obj{"type": "string"},
						"result":     obj{"description": "the operation's result"},
						"elapsed_ms": obj{"type": "number"},
					},
				},
				"CatalogEntry": obj{
					"type": "object", "required": []any{"name", "source"},
					"properties": obj{
						"name":           obj{"type": "string"},
						"category":       obj{"type": "string"},
						"summary":        obj{"type": "string"},
						"description":    obj{"type": "string"},
						"params":         obj{"type": "array", "items": obj{"type": "object", "additionalProperties": true}},
						"result":         obj{"type": "string"},
						"destructive":    obj{"type": "boolean"},
						"simulator_only": obj{"type": "boolean"},
						"timeout_ms":     obj{"type": "integer"},
						"schema":         obj{"type": "object", "additionalProperties": true},
						"source":         obj{"type": "string"},
						"load_error":     obj{"type": "string"},
					},
				},
				"Catalog": obj{
					"type": "object", "required": []any{"version", "operations"},
					"properties": obj{
						"version":    obj{"type": "integer"},
						"simulated":  obj{"type": "boolean"},
						"operations": obj{"type": "array", "items": ref("CatalogEntry")},
					},
				},
				"Info": obj{
					"type": "object",
					"properties": obj{
						"version":            obj{"type": "string"},
						"observer":           obj{"type": "string"},
						"simulated":          obj{"type": "boolean"},
						"seed":               obj{"type": "integer"},
						"operations_version": obj{"type": "integer"},
						"last_event_id":      obj{"type": "integer"},
					},
				},
			},
		},
	}
}

func runDescription(s operations.Spec) string {
	d := s.Description
	if s.Destructive {
		d = strings.TrimSpace(d + " Destructive: send the header " + ConfirmHeader + ": true.")
	}
	if s.SimulatorOnly {
		d = strings.TrimSpace(d + " Simulator only: answers 422 simulator_only on a real cluster.")
	}
	return d
}

func hasRequired(s operations.Spec) bool {
	for _, p := range s.Params {
		if p.Required {
			return true
		}
	}
	return false
}

func merge(a, b obj) obj {
	for k, v := range b {
		a[k] = v
	}
	return a
}
