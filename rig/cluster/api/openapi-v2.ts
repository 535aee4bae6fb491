// /openapi/v2 as kube-apiserver serves it: Swagger 2.0 as JSON, or as gnostic's openapi_v2.Document in protobuf
// when the client asks for it, which client-go's discovery always does. kubectl's and Helm's validators turn
// to it for a `v1 List`: the query-param verifier declares List unsupported for server-side field validation,
// so Strict validation checks every item of the List client-side against these definitions, found by their
// x-kubernetes-group-version-kind. It is derived from the /openapi/v3 documents: one source of truth.
import protobuf from 'protobufjs';
import { stringify } from 'yaml';
import { openApiV3Document } from './openapi.ts';
import { RESOURCE_TYPES } from './resources.ts';
import type { Schema } from './schemas.ts';

/** The media type client-go's discovery asks for (k8s.io/client-go/discovery, openAPIV2mimePb). */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

// The part of gnostic's OpenAPIv2.proto (package openapi.v2) that the document below uses, field numbers as
// published, so Go's proto.Unmarshal into openapi_v2.Document reads it. Any.value (a google.protobuf.Any) is
// left out: Kubernetes reads vendor extensions and enum values from Any.yaml only.
const GNOSTIC_SUBSET = `
syntax = "proto3";
package openapi.v2;
message AdditionalPropertiesItem { oneof oneof { Schema schema = 1; bool boolean = 2; } }
message Any { string yaml = 2; }
message Definitions { repeated NamedSchema additional_properties = 1; }
message Document {
  string swagger = 1;
  Info info = 2;
  Paths paths = 8;
  Definitions definitions = 9;
}
message Info { string title = 1; string version = 2; }
message ItemsItem { repeated Schema schema = 1; }
message NamedAny { string name = 1; Any value = 2; }
message NamedPathItem { string name = 1; PathItem value = 2; }
message NamedResponseValue { string name = 1; ResponseValue value = 2; }
message NamedSchema { string name = 1; Schema value = 2; }
message NonBodyParameter { oneof oneof { QueryParameterSubSchema query_parameter_sub_schema = 3; } }
message Operation {
  string operation_id = 5;
  repeated ParametersItem parameters = 8;
  Responses responses = 9;
  repeated NamedAny vendor_extension = 13;
}
message Parameter { oneof oneof { NonBodyParameter non_body_parameter = 2; } }
message ParametersItem { oneof oneof { Parameter parameter = 1; } }
message PathItem {
  Operation get = 2;
  Operation put = 3;
  Operation post = 4;
  Operation delete = 5;
  Operation patch = 8;
}
message Paths { repeated NamedPathItem path = 2; }
message Properties { repeated NamedSchema additional_properties = 1; }
message QueryParameterSubSchema {
  string in = 2;
  string name = 4;
  string type = 6;
  bool unique_items = 20;
}
message Response { string description = 1; }
message ResponseValue { oneof oneof { Response response = 1; } }
message Responses { repeated NamedResponseValue response_code = 1; }
message Schema {
  string _ref = 1;
  string format = 2;
  repeated string required = 19;
  repeated Any enum = 20;
  AdditionalPropertiesItem additional_properties = 21;
  TypeItem type = 22;
  ItemsItem items = 23;
  Properties properties = 25;
  repeated NamedAny vendor_extension = 31;
}
message TypeItem { repeated string value = 1; }
`;

type Json = Record<string, unknown>;
interface V3Document {
  paths: Record<string, Record<string, Json & { parameters: (Json & { schema: Json })[] }>>;
  components: { schemas: Record<string, Schema & Json> };
}

const V3_REF = '#/components/schemas/';
const GVK = 'x-kubernetes-group-version-kind';

/** A v3 component schema in v2 terms: refs into #/definitions, int-or-string as Kubernetes' v2 writes it. */
const toV2Schema = (schema: Schema & Json): Json => {
  if (schema.$ref) return { $ref: `#/definitions/${schema.$ref.slice(V3_REF.length)}` };
  if (schema['x-kubernetes-int-or-string']) return { type: 'string', format: 'int-or-string' };
  const { properties, items, additionalProperties, ...rest } = schema;
  const result: Json = { ...rest };
  if (properties) {
    result.properties = Object.fromEntries(
      Object.entries(properties).map(([name, child]) => [name, toV2Schema(child as Schema & Json)]),
    );
  }
  if (items) result.items = toV2Schema(items as Schema & Json);
  if (typeof additionalProperties === 'object')
    result.additionalProperties = toV2Schema(additionalProperties as Schema & Json);
  else if (additionalProperties !== undefined) result.additionalProperties = additionalProperties;
  return result;
};

const v3Documents = (): V3Document[] => {
  const versions = [...new Set(RESOURCE_TYPES.map((type) => `${type.group}/${type.version}`))];
  return versions.flatMap((groupVersion) => {
    const [group = '', version = ''] = groupVersion.split('/');
    const document = openApiV3Document(group, version) as V3Document | undefined;
    return document ? [document] : [];
  });
};

/** Swagger 2.0: every served path and every schema the v3 documents hold, under the same names. */
export const openApiV2Document = (): Json => {
  const paths: Json = {};
  const definitions: Json = {};
  for (const document of v3Documents()) {
    for (const [path, item] of Object.entries(document.paths)) {
      paths[path] = Object.fromEntries(
        Object.entries(item).map(([method, operation]) => [
          method,
          {
            ...operation,
            parameters: operation.parameters.map(({ schema, ...parameter }) => ({ ...parameter, ...schema })),
          },
        ]),
      );
    }
    // Each v3 document holds every schema, but names the GroupVersionKind only on its own group version's.
    for (const [name, schema] of Object.entries(document.components.schemas)) {
      const known = definitions[name] as Json | undefined;
      if (!known?.[GVK]) definitions[name] = toV2Schema(schema);
    }
  }
  return { swagger: '2.0', info: { title: 'Kubernetes', version: 'v1.33.0' }, paths, definitions };
};

// Gnostic spells every map as a list of (name, value) pairs and every vendor extension and enum value as YAML.
const named = <T>(entries: Record<string, T>, convert: (value: T) => unknown) =>
  Object.entries(entries).map(([name, value]) => ({ name, value: convert(value) }));

const extensionsOf = (object: Json) =>
  Object.entries(object)
    .filter(([key]) => key.startsWith('x-'))
    .map(([name, value]) => ({ name, value: { yaml: stringify(value) } }));

const gnosticSchema = (schema: Json): Json => {
  const { $ref, type, format, required, properties, items, additionalProperties } = schema;
  const result: Json = { vendor_extension: extensionsOf(schema) };
  if (typeof $ref === 'string') result._ref = $ref;
  if (typeof type === 'string') result.type = { value: [type] };
  if (typeof format === 'string') result.format = format;
  if (Array.isArray(required)) result.required = required;
  if (Array.isArray(schema.enum)) result.enum = schema.enum.map((value) => ({ yaml: stringify(value) }));
  if (properties)
    result.properties = { additional_properties: named(properties as Record<string, Json>, gnosticSchema) };
  if (items) result.items = { schema: [gnosticSchema(items as Json)] };
  if (typeof additionalProperties === 'object')
    result.additional_properties = { schema: gnosticSchema(additionalProperties as Json) };
  else if (typeof additionalProperties === 'boolean')
    result.additional_properties = { boolean: additionalProperties };
  return result;
};

const gnosticOperation = (operation: Json): Json => ({
  operation_id: operation.operationId,
  parameters: (operation.parameters as Json[]).map((parameter) => ({
    parameter: {
      non_body_parameter: {
        query_parameter_sub_schema: {
          in: parameter.in,
          name: parameter.name,
          type: parameter.type,
          unique_items: parameter.uniqueItems,
        },
      },
    },
  })),
  responses: {
    response_code: named(operation.responses as Record<string, Json>, (response) => ({
      response: { description: response.description },
    })),
  },
  vendor_extension: extensionsOf(operation),
});

let encoded: Buffer | undefined;

/** The document in protobuf, encoded once: the schemas do not change while the server runs. */
export const openApiV2Protobuf = (): Buffer => {
  if (encoded) return encoded;
  const document = openApiV2Document();
  const type = protobuf.parse(GNOSTIC_SUBSET, { keepCase: true }).root.lookupType('openapi.v2.Document');
  const message = type.fromObject({
    swagger: document.swagger,
    info: document.info,
    paths: {
      path: named(document.paths as Record<string, Record<string, Json>>, (item) => ({
        ...Object.fromEntries(
          Object.entries(item).map(([method, operation]) => [method, gnosticOperation(operation)]),
        ),
      })),
    },
    definitions: {
      additional_properties: named(document.definitions as Record<string, Json>, gnosticSchema),
    },
  });
  encoded = Buffer.from(type.encode(message).finish());
  return encoded;
};
