// Traefik v3's configuration types (SchemaStore's schemas, as TypeScript), closed: tests/test_posture.py writes
// each generated traefik.yml and dynamic.yml as an object literal of these types, and `tsc --noEmit --strict`
// rejects a key Traefik does not know (an excess property) or a value of the wrong type.
//
// The generated types leave some objects open (`[k: string]: unknown`: the static configuration's top level,
// `http`, a router's `tls`), where a misspelt key would pass. Closed<T> drops those catch-all signatures, as
// Traefik itself refuses an unknown key of its configuration; a map of named entries (routers, services,
// middlewares, entry points) keeps its own.
import type { TraefikV3StaticConfiguration } from "@schemastore/traefik-v3";
import type { HttpsJsonSchemastoreOrgTraefikV3FileProviderJson } from "@schemastore/traefik-v3-file-provider";

type KnownKeys<T> = { [K in keyof T as string extends K ? never : number extends K ? never : K]: Closed<T[K]> };

export type Closed<T> = T extends string | number | boolean | null | undefined
  ? T
  : T extends readonly unknown[]
    ? { [I in keyof T]: Closed<T[I]> }
    : string extends keyof T
      ? unknown extends T[string & keyof T]
        ? KnownKeys<T> // open: only the keys it names
        : { [K in keyof T]: Closed<T[K]> } // a map of named entries
      : { [K in keyof T]: Closed<T[K]> };

export type StaticConfiguration = Closed<TraefikV3StaticConfiguration>;
export type DynamicConfiguration = Closed<HttpsJsonSchemastoreOrgTraefikV3FileProviderJson>;
