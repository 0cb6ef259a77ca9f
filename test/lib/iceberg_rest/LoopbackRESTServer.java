/*
 * Iceberg's RESTCatalogServer (iceberg-open-api test fixtures) on 127.0.0.1 only.
 *
 * RESTCatalogServer.start() hands its servlet to Jetty's Server(port), which binds every
 * interface; this launcher does what start() does (RESTCatalogServer 1.10.0, read with
 * javap) with the same classes (its backend catalog from the CATALOG_* environment,
 * RESTServerCatalogAdapter, RESTCatalogServlet, gzip) but a connector bound to loopback.
 * Its package-private parts are reached by reflection: nothing of Iceberg is re-implemented.
 *
 *   java -cp <lib>/*:<dir of this class> LoopbackRESTServer     (port from CATALOG_REST_PORT)
 */
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.util.Map;
import org.apache.iceberg.rest.RESTCatalogAdapter;
import org.apache.iceberg.rest.RESTCatalogServlet;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.gzip.GzipHandler;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public class LoopbackRESTServer {
    public static void main(String[] args) throws Exception {
        Class<?> serverClass = Class.forName("org.apache.iceberg.rest.RESTCatalogServer");
        Constructor<?> sc = serverClass.getDeclaredConstructor();
        sc.setAccessible(true);
        Object rcs = sc.newInstance();
        Method init = serverClass.getDeclaredMethod("initializeBackendCatalog");
        init.setAccessible(true);
        Object ctx = init.invoke(rcs);

        Class<?> ctxClass = Class.forName("org.apache.iceberg.rest.RESTCatalogServer$CatalogContext");
        Method conf = ctxClass.getDeclaredMethod("configuration");
        conf.setAccessible(true);
        @SuppressWarnings("unchecked")
        Map<String, String> config = (Map<String, String>) conf.invoke(ctx);
        int port = Integer.parseInt(config.getOrDefault("rest.port", "8181"));

        Class<?> adapterClass = Class.forName("org.apache.iceberg.rest.RESTServerCatalogAdapter");
        Constructor<?> ac = adapterClass.getDeclaredConstructor(ctxClass);
        ac.setAccessible(true);
        RESTCatalogAdapter adapter = (RESTCatalogAdapter) ac.newInstance(ctx);

        ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
        context.addServlet(new ServletHolder(new RESTCatalogServlet(adapter)), "/*");
        context.insertHandler(new GzipHandler());

        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(context);
        server.start();
        System.out.println("LoopbackRESTServer listening on 127.0.0.1:" + port);
        server.join();
    }
}
