// An OpenID Connect provider on loopback for the sign-in test: oauth2-mock-server from npm
// (installed by the test into .baton/oidc-provider). It signs ID tokens with its own RS256 key,
// serves discovery, JWKS, token and userinfo endpoints, and approves every authorization request;
// the person signing in is whoever CLAIMS_FILE names at that moment (the test writes it).
// usage: node oidc_provider.mjs PORT CLAIMS_FILE
import { readFileSync } from "node:fs";
import { OAuth2Server } from "oauth2-mock-server";

const [port, claimsFile] = process.argv.slice(2);
const claims = () => JSON.parse(readFileSync(claimsFile, "utf8"));
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
server.service.on("beforeTokenSigning", (token) => Object.assign(token.payload, claims()));
server.service.on("beforeUserinfo", (response) => {
  response.body = { sub: "johndoe", ...claims() };
});
await server.start(Number(port), "127.0.0.1");
console.log(`issuer ${server.issuer.url}`);
