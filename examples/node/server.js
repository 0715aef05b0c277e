// node-hello is ingot's Node.js sample app: it answers on $PORT.
const http = require("http");

const port = Number(process.env.PORT || 8080);
const index = process.env.CF_INSTANCE_INDEX || "";

const server = http.createServer((req, res) => {
  if (req.url === "/" || req.url === "/index.html") {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(`Hello from ingot (node) instance ${index}\n`);
    return;
  }
  if (req.url === "/index") {
    res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
    res.end(index);
    return;
  }
  res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
  res.end("not found\n");
});

server.listen(port, () => {
  console.log(`node-hello instance ${index} listening on port ${port}`);
});

process.on("SIGTERM", () => server.close(() => process.exit(0)));
