function main(params) {
  return {greeting: "hello " + (params.name || "world")}
}
