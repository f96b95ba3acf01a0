package docshift.testbed;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

import java.util.concurrent.CountDownLatch;

/**
 * Runs mongo-java-server (in-memory backend, oplog enabled so change streams work) on
 * 127.0.0.1:PORT for docshift's test bed (scripts/testbed.sh). Test infrastructure only.
 *
 * <p>Usage: {@code java -jar javaserver-1.jar [--port N] [--host H] [--worker-threads N]}. Runs until SIGTERM or
 * SIGINT; the shutdown hook closes the server. Data lives in memory only.
 */
public final class JavaServerMain {
    private JavaServerMain() {}

    public static void main(String[] args) throws Exception {
        // mongo-java-server logs every connection at INFO; keep the log to warnings unless
        // the caller asks for more with -Dorg.slf4j.simpleLogger.defaultLogLevel=info.
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        String host = "127.0.0.1";
        int port = 27104;
        // mongo-java-server answers every request on a netty worker thread, and holds a
        // change stream's getMore there for 100 ms: with its default (2 x cores) a few
        // dozen open streams starve every other client. 0 = netty's default.
        int workerThreads = 0;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--host" -> host = args[++i];
                case "--worker-threads" -> workerThreads = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: javaserver [--host H] [--port N] [--worker-threads N]");
                    System.exit(2);
                }
            }
        }

        MongoServer server = new MongoServer(new MemoryBackend());
        server.enableOplog();
        server.bind(new java.net.InetSocketAddress(host, port), 0, workerThreads);
        System.err.printf("javaserver: mongo-java-server listening on %s:%d (pid %d)%n",
                host, port, ProcessHandle.current().pid());

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.shutdownNow();
            stopped.countDown();
        }, "javaserver-shutdown"));
        stopped.await();
    }
}
