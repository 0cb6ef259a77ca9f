// Prints what Debezium 2.7.4's own MaskStrings / TruncateColumn make of a few values:
// the reference table of test/unit/test_colfilter.c.  By hand, after a test run has filled
// .cache/connect (C=.cache/connect/lib, D=.cache/connect/m2/io/debezium/debezium-core/2.7.4.Final):
//   CP=$D/debezium-core-2.7.4.Final.jar:$C/connect-api-3.7.1.jar:$C/slf4j-api-1.7.36.jar:$C/kafka-clients-3.7.1.jar
//   javac -d /tmp/mr -cp $CP test/tools/MaskRef.java && java -Dfile.encoding=UTF-8 -cp $CP:/tmp/mr MaskRef
import io.debezium.relational.Column;
import io.debezium.relational.mapping.MaskStrings;
import io.debezium.relational.mapping.TruncateColumn;
import io.debezium.relational.ValueConverter;
import java.sql.Types;

public class MaskRef {
    static Column col(int len) {
        return Column.editor().name("c").jdbcType(Types.VARCHAR).type("varchar").length(len).create();
    }
    static String esc(Object o) {
        if (o == null) return "NULL";
        StringBuilder b = new StringBuilder();
        for (char ch : o.toString().toCharArray()) {
            if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') b.append(String.format("\\u%04x", (int) ch));
            else b.append(ch);
        }
        return b.toString();
    }
    public static void main(String[] a) {
        String[] values = { "", "alice@example.com", "Zoë \u20ac 日本", "\ud83d\ude00 smile", "nul\u0000byte", null };
        String[][] algs = { { "SHA-256", "CzQMA0cB5K" }, { "MD5", "s" }, { "SHA-512", "" }, { "SHA-1", "salt\u00e9" } };
        int[] lens = { 2147483647, 20 };
        for (String[] as : algs)
            for (MaskStrings.HashingByteArrayStrategy v : MaskStrings.HashingByteArrayStrategy.values())
                for (int len : lens)
                    for (String val : values) {
                        ValueConverter c = new MaskStrings(as[1].getBytes(), as[0], v).create(col(len));
                        System.out.println("hash|" + as[0] + "|" + esc(as[1]) + "|" + v + "|" + len + "|" + esc(val) + "|" + esc(c.convert(val)));
                    }
        for (String val : values) {
            System.out.println("mask|5|" + esc(val) + "|" + esc(new MaskStrings("*****").create(col(10)).convert(val)));
            System.out.println("trunc|3|" + esc(val) + "|" + esc(new TruncateColumn(3).create(col(-1)).convert(val)));
        }
        StringBuilder big = new StringBuilder();
        for (int i = 0; i < 70000; i++) big.append((char) ('a' + i % 26));
        System.out.println("hashbig|SHA-256|k|V1|" + new MaskStrings("k".getBytes(), "SHA-256", MaskStrings.HashingByteArrayStrategy.V1).create(col(2147483647)).convert(big.toString()));
    }
}
