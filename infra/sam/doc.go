// Package sam keeps the files the SAM CLI reads besides template.yaml, and
// tests that they agree with it: env.json (`sam local invoke --env-vars`,
// `sam local start-api --env-vars`), which points every function at
// DynamoDB Local on the Docker host, and the repository's samconfig.toml,
// whose defaults make `sam build`, `sam deploy` and `sam local` need no
// flags. Only users with Docker and the SAM CLI use them; `make run` needs
// neither.
package sam
