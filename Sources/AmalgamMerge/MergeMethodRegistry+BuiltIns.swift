/// The built-in methods: one line each, the table of contents of Methods/.
extension MergeMethodRegistry {
    public static let builtIn = MergeMethodRegistry([
        Linear.self,
        SLERP.self,
        TaskArithmetic.self,
        TIES.self,
        DARETIES.self,
        DARELinear.self,
        Breadcrumbs.self,
        BreadcrumbsTIES.self,
        DELLA.self,
        DELLALinear.self,
        ModelStock.self,
        NearSwap.self,
        Passthrough.self,
    ])
}
