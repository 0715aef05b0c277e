// java-hello is ingot's Java sample app: it answers on $PORT using only the
// JDK's built-in HTTP server.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

public class Main {
    public static void main(String[] args) throws IOException {
        String portEnv = System.getenv("PORT");
        int port = portEnv == null || portEnv.isEmpty() ? 8080 : Integer.parseInt(portEnv);
        String idx = System.getenv("CF_INSTANCE_INDEX");
        final String index = idx == null ? "" : idx;

        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.createContext("/", (HttpExchange ex) -> {
            String path = ex.getRequestURI().getPath();
            int status = 200;
            String body;
            if (path.equals("/")) {
                body = "Hello from ingot (java) instance " + index + "\n";
            } else if (path.equals("/index")) {
                body = index;
            } else {
                status = 404;
                body = "not found\n";
            }
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            ex.sendResponseHeaders(status, b.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(b);
            }
        });
        server.setExecutor(Executors.newFixedThreadPool(4));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> server.stop(1)));
        server.start();
        System.out.println("java-hello instance " + index + " listening on port " + port);
    }
}
